"""Opening the app over a process's AWS clients: the search index the settings name, and the
client that signs the browser's media URLs. ``videosense up`` and ``python -m videosense.web``
both start here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from aiobotocore.session import get_session
from fastapi import FastAPI

from videosense.web.app import create_app
from videosense.web.context import WebClients
from videosense.web.server import serving
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


@asynccontextmanager
async def web_app(
    aws: AwsClients, settings: WebSettings, search: SearchSettings | None = None
) -> AsyncIterator[FastAPI]:
    """The app over ``aws``, with the configured search index open while the block runs.

    Raises:
        SearchIndexError: the index cannot be opened.
        SearchConfigurationError: the search settings name no usable backend.
    """
    async with AsyncExitStack() as stack:
        signer: S3Client = aws.s3
        if settings.media_endpoint_url:
            # Signing needs no request: this client only ever builds URLs for the browser.
            signer = await stack.enter_async_context(
                get_session().create_client(
                    "s3", region_name=aws.region, endpoint_url=settings.media_endpoint_url
                )
            )
        index = await open_search_index(search, aws=aws)
        stack.push_async_callback(index.close)
        clients = WebClients(s3=aws.s3, dynamodb=aws.dynamodb, signer=signer, sqs=aws.sqs)
        yield create_app(settings, clients, index)


@asynccontextmanager
async def serve_web(aws: AwsClients, settings: WebSettings) -> AsyncIterator[str]:
    """Serve the app on ``settings.host:settings.port`` while the block runs (in this event
    loop, beside other work); yields its URL.

    Raises:
        OSError: the address cannot be bound.
        SearchIndexError: the search index cannot be opened.
    """
    async with web_app(aws, settings) as app, serving(app, settings.host, settings.port) as url:
        yield url
