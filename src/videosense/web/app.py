"""The web app factory: FastAPI with the API, the pages and their static files."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from videosense.web import api, pages
from videosense.web.clips import ClipDesk
from videosense.web.context import WebClients, WebContext
from videosense.web.library import Library
from videosense.web.settings import WebSettings
from videosense_shared.logs import get_logger
from videosense_shared.search import SearchIndex, SearchIndexError

log = get_logger("videosense.web")


def create_app(settings: WebSettings, clients: WebClients, index: SearchIndex) -> FastAPI:
    """The web app over ``clients`` and ``index`` (both opened and closed by the caller)."""
    app = FastAPI(
        title="videosense",
        summary="The video library: documents, keyframes, search, uploads and clips.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.web = WebContext(
        settings=settings,
        s3=clients.s3,
        signer=clients.signer,
        library=Library(clients.s3, clients.dynamodb, settings.common),
        index=index,
        clips=ClipDesk(
            clients.s3,
            clients.signer,
            clients.sqs,
            settings.common,
            settings.media_url_ttl_s,
            deadline_s=settings.clip_deadline_s,
        ),
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.PACKAGE_DIR / "static"), name="static")

    @app.exception_handler(SearchIndexError)
    async def _index_down(request: Request, exc: SearchIndexError) -> JSONResponse:
        log.warning("search index failed", path=request.url.path, error=str(exc))
        return JSONResponse(
            {"detail": f"the search index is unavailable: {exc}"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(ClientError)
    @app.exception_handler(BotoCoreError)
    async def _storage_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("storage request failed", path=request.url.path, error=str(exc))
        return JSONResponse(
            {"detail": "the video store did not answer; try again"},
            status_code=status.HTTP_502_BAD_GATEWAY,
        )

    return app
