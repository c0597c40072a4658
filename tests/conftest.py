"""Shared fixtures: the AWS endpoint the integration and e2e tiers run against.

Choice, in order: ``AWS_ENDPOINT_URL`` if set (any running LocalStack or moto); else LocalStack
through testcontainers when a Docker engine answers; else the embedded moto server. Each test
gets its own resource-name prefix and bucket, so tests never see each other's queues or
documents, whichever backend runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from videosense.emulator import EMULATOR_ENV, Emulator


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """URL of the AWS endpoint for this test session."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    if _docker_answers():
        try:
            from testcontainers.localstack import LocalStackContainer
        except ImportError:
            pass
        else:
            # Community tag: newer ones need LOCALSTACK_AUTH_TOKEN.
            with LocalStackContainer(image="localstack/localstack:4.14.0") as localstack:
                yield localstack.get_url()
            return
    with Emulator() as emulator:
        yield emulator.endpoint


@pytest.fixture
def aws_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point SDKs and settings at the test endpoint with a fresh name prefix per test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **EMULATOR_ENV,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "VIDEOSENSE_PREFIX": prefix,
        "VIDEOSENSE_BUCKET": f"{prefix}-media",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
