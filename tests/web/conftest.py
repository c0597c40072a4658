"""The web app on the real emulator: provisioned resources, injected clients, and an httpx
client talking to the app in-process (same event loop as the AWS clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from videosense.web.app import create_app
from videosense.web.context import WebClients
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.provision import provision
from videosense_shared.search import SearchIndex
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings
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
async def app(aws: AwsClients, settings: WebSettings, index: SearchIndex) -> FastAPI:
    clients = WebClients(s3=aws.s3, dynamodb=aws.dynamodb, signer=aws.s3, sqs=aws.sqs)
    return create_app(settings, clients, index)


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://web"
    ) as client:
        yield client


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[SearchIndex]:
    """The embedded backend on a fresh file, without the text-embedding model (phrase, any
    word and prefix searches need none)."""
    opened = await open_search_index(
        SearchSettings(index_path=tmp_path / "search.sqlite", embeddings=False)
    )
    yield opened
    await opened.close()
