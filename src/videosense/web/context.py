"""What every request handler of the web app shares: settings, clients, the library reader,
the search index and the clip desk, injected once by :func:`videosense.web.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from videosense.web.clips import ClipDesk
from videosense.web.library import Library
from videosense.web.settings import WebSettings
from videosense_shared.search import SearchIndex

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient


@dataclass(frozen=True)
class WebClients:
    """The AWS clients the app reads and writes through (opened and closed by its caller).

    ``signer`` only signs the URLs the browser follows; it may point at another endpoint than
    ``s3`` (the browser's way to the same bucket) and is never sent a request. ``sqs`` only
    sends clip requests to the clipper's queue.
    """

    s3: S3Client
    dynamodb: DynamoDBClient
    signer: S3Client
    sqs: SQSClient


@dataclass(frozen=True)
class WebContext:
    """Everything a handler needs."""

    settings: WebSettings
    s3: S3Client
    signer: S3Client
    library: Library
    index: SearchIndex
    clips: ClipDesk


def web_context(request: Request) -> WebContext:
    """The app's context (a FastAPI dependency)."""
    context: WebContext = request.app.state.web
    return context
