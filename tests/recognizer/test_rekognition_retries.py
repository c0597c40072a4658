"""Throttling through botocore's own retries, against a local HTTP server that speaks
Rekognition's protocol (JSON 1.1 over POST, ``X-Amz-Target`` names the operation, errors as
``{"__type": ...}`` with HTTP 400)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiohttp import web

from recognizer.features import Feature
from recognizer.images import encode_jpeg
from recognizer.rekognition import RekognitionBackend
from recognizer.settings import RecognizerSettings
from tests.recognizer.test_rekognition import provider
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError

if TYPE_CHECKING:
    pass

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rekognition"
IMAGE = encode_jpeg(np.full((100, 100, 3), 80, np.uint8))


@dataclass
class FakeRekognition:
    """Answers DetectText; throttles the first ``throttle`` requests."""

    throttle: int = 0
    targets: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.targets.append(request.headers.get("X-Amz-Target", ""))
        body = await request.json()
        assert "Image" in body
        if len(self.targets) <= self.throttle:
            return web.json_response(
                {"__type": "ThrottlingException", "message": "Rate exceeded"},
                status=400,
                content_type="application/x-amz-json-1.1",
            )
        return web.json_response(
            json.loads((FIXTURES / "detect_text.json").read_text()),
            content_type="application/x-amz-json-1.1",
        )


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeRekognition, str]]:
    fake = FakeRekognition()
    app = web.Application()
    app.router.add_post("/", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize(
    ("throttle", "outcome"),
    [
        pytest.param(1, "recognized", id="throttled-once-then-answered"),
        pytest.param(5, "retry-later", id="still-throttled-after-botocore-retries"),
    ],
)
async def test_throttling_is_retried_by_botocore_then_handed_to_the_consumer(
    server: tuple[FakeRekognition, str], throttle: int, outcome: str
) -> None:
    fake, endpoint = server
    fake.throttle = throttle
    session = AioSession()
    async with session.create_client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # Two attempts in all: one retry, whose jittered backoff is at most 1 s.
        config=AioConfig(retries={"mode": "standard", "total_max_attempts": 2}),
    ) as client:
        backend = RekognitionBackend(provider(client), RecognizerSettings(backend="rekognition"))
        if outcome == "recognized":
            found = await backend.recognize(IMAGE, {Feature.TEXT})
            assert found.text[0].text == "OPEN 24 HOURS"
        else:
            with pytest.raises(RetryableError, match="DetectText throttled"):
                await backend.recognize(IMAGE, {Feature.TEXT})
    # botocore sent the request twice in both cases
    assert fake.targets == ["RekognitionService.DetectText"] * 2


async def test_missing_credentials_fail_the_stage_instead_of_retrying(
    server: tuple[FakeRekognition, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a process with no AWS credentials anywhere (env, files, instance metadata)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fake, endpoint = server
    async with AioSession().create_client(
        "rekognition", region_name="us-east-1", endpoint_url=endpoint
    ) as client:
        backend = RekognitionBackend(provider(client), RecognizerSettings(backend="rekognition"))
        # WHEN a keyframe is recognized, THEN the backend is unavailable, with the reason
        with pytest.raises(BackendUnavailableError, match="no AWS credentials"):
            await backend.recognize(IMAGE, {Feature.TEXT})
    assert fake.targets == []
