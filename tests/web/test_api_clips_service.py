"""The clips API over the real pipeline with the real clipper: a numbered video is analysed, a
clip is asked for through ``POST /api/clips``, the status turns complete, and the presigned URL
serves the frame-exact MP4; a selection with no match ends ``empty`` and a range past the end
``failed``, each with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clipper.coded_video import coded_video, expected_frames, frame_numbers
from tests.support.polling import short_polls
from tests.support.waiting import eventually
from videosense.embedded import EmbeddedStack
from videosense.web.app import create_app
from videosense.web.context import WebClients
from videosense.web.settings import WebSettings
from videosense_shared.messages import Stage, VideoStatus
from videosense_shared.search import SearchIndex

FPS = 25
SECONDS = 6


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return coded_video(tmp_path_factory.mktemp("web-clip-src") / "coded.mp4", seconds=SECONDS)


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "CLIPPER")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


@pytest.fixture
async def web(stack: EmbeddedStack, index: SearchIndex) -> AsyncIterator[httpx.AsyncClient]:
    aws = stack.aws
    clients = WebClients(s3=aws.s3, dynamodb=aws.dynamodb, signer=aws.s3, sqs=aws.sqs)
    app = create_app(WebSettings(), clients, index)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://web"
    ) as client:
        yield client


async def finished_video(stack: EmbeddedStack, source: Path) -> str:
    video_id = await stack.upload(source, stages=(Stage.FRAMES,))
    event = await stack.wait_completed(video_id, timeout_s=90)
    assert event.status == VideoStatus.COMPLETE
    return video_id


async def answer(web: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Post a request and poll its status until the clipper has answered."""
    resp = await web.post("/api/clips", json=body)
    assert resp.status_code == 202, resp.text
    status_url = resp.json()["status_url"]

    async def ended() -> dict[str, Any]:
        got = await web.get(status_url)
        assert got.status_code == 200, got.text
        status: dict[str, Any] = got.json()
        return {} if status["status"] == "pending" else status

    return await eventually(ended, timeout_s=120, interval_s=0.5, what="the clipper's answer")


async def test_a_requested_clip_completes_and_its_url_serves_the_mp4(
    stack: EmbeddedStack, web: httpx.AsyncClient, source: Path, tmp_path: Path
) -> None:
    # GIVEN a finished video whose frames show their own number
    video_id = await finished_video(stack, source)
    # WHEN a time range is asked for through the API
    status = await answer(web, {"video_id": video_id, "selector": {"from_s": 1.3, "to_s": 3.7}})
    # THEN it completes with one clip, its range and how it was cut
    assert status["status"] == "complete", status
    [clip] = status["clips"]
    [cut] = clip["ranges"]
    assert (cut["requested_start_s"], cut["requested_end_s"]) == (1.3, 3.7)
    assert cut["method"] in {"smart", "reencode"}
    assert status["supercut_file"] is None
    # AND its presigned URL serves an MP4 holding exactly the frames asked for
    async with httpx.AsyncClient() as browser:
        got = await browser.get(clip["url"])
        saved = await browser.get(clip["download_url"])
    assert got.status_code == 200
    assert got.content[4:8] == b"ftyp"
    assert len(got.content) == clip["size_bytes"]
    path = tmp_path / clip["name"]
    path.write_bytes(got.content)
    assert frame_numbers(path) == expected_frames(1.3, 3.7, FPS, FPS * SECONDS)
    # AND the download URL offers it as a file under its name
    assert saved.headers["content-disposition"] == f'attachment; filename="{clip["name"]}"'
    # AND the video's listing shows the request as complete
    listed = (await web.get(f"/api/videos/{video_id}/clips")).json()["requests"]
    assert [(r["request_id"], r["status"]) for r in listed] == [(status["request_id"], "complete")]


async def test_no_match_is_empty_and_a_range_past_the_end_failed(
    stack: EmbeddedStack, web: httpx.AsyncClient, source: Path
) -> None:
    video_id = await finished_video(stack, source)
    # WHEN nothing in the video matches / THEN the answer is empty, saying so
    empty = await answer(web, {"video_id": video_id, "selector": {"label": "Dog"}})
    assert (empty["status"], empty["reason"]) == ("empty", "no moments found for --label 'Dog'")
    assert empty["clips"] == []
    # WHEN the range starts after the end / THEN the answer is failed, saying why
    failed = await answer(web, {"video_id": video_id, "selector": {"from_s": 20, "to_s": 30}})
    assert failed["status"] == "failed"
    assert "starts after the end of the video" in failed["reason"]
    assert failed["clips"] == []
