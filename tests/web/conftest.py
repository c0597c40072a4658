"""The web app on the real emulator: provisioned resources, injected clients, and an httpx
client talking to the app in-process (same event loop as the AWS clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from videosense.web.app import create_app
from videosense.web.context import WebClients
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.provision import provision
from videosense_shared.search import SearchIndexError
from videosense_shared.settings import CommonSettings


@pytest.fixture
async def aws(aws_env: dict[str, str]) -> AsyncIterator[AwsClients]:
    common = CommonSettings()
    async with AwsClients(common.region) as clients:
        await provision(clients, common)
        yield clients


@pytest.fixture
def settings(aws_env: dict[str, str]) -> WebSettings:
    return WebSettings()


@pytest.fixture
async def app(aws: AwsClients, settings: WebSettings, index: object) -> FastAPI:
    return create_app(settings, WebClients(s3=aws.s3, dynamodb=aws.dynamodb, signer=aws.s3), index)  # type: ignore[arg-type]


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://web"
    ) as client:
        yield client


class _NoIndex:
    """A search index that is down (every call fails as a real backend's outage does)."""

    async def index_video(self, document: object) -> int:
        raise SearchIndexError("no index in this test")

    async def remove_video(self, video_id: str) -> None:
        raise SearchIndexError("no index in this test")

    async def search(self, query: object) -> object:
        raise SearchIndexError("no index in this test")

    async def close(self) -> None:
        return None


@pytest.fixture
def index() -> _NoIndex:
    return _NoIndex()
