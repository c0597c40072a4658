"""The pages: the library, a video, and search. Server-rendered shells; the data comes from
the JSON API (:mod:`videosense.web.api`), fetched by the page's script."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from videosense.web.context import WebContext, web_context
from videosense.web.library import VideoNotFoundError

PACKAGE_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]


def _page(request: Request, ctx: WebContext, name: str, **values: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"poll_interval_ms": int(ctx.settings.poll_interval_s * 1000), **values}
    )


@router.get("/", response_class=HTMLResponse)
async def library_page(request: Request, ctx: Context) -> HTMLResponse:
    """Every video, its status and stages; uploads."""
    return _page(request, ctx, "library.html", active="library")


@router.get("/videos/{video_id}", response_class=HTMLResponse)
async def video_page(
    request: Request, ctx: Context, video_id: str, t: Annotated[float | None, Query(ge=0)] = None
) -> HTMLResponse:
    """One video: the player, its scenes and keyframes, the transcript, the stages."""
    try:
        summary = await ctx.library.summary(video_id)
    except VideoNotFoundError:
        response = _page(request, ctx, "missing.html", video_id=video_id, active="")
        response.status_code = status.HTTP_404_NOT_FOUND
        return response
    return _page(request, ctx, "video.html", summary=summary, start_s=t or 0.0, active="")


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request, ctx: Context, q: Annotated[str, Query(max_length=10_000)] = ""
) -> HTMLResponse:
    """The search box and every matching frame and segment."""
    return _page(request, ctx, "search.html", q=q, active="search")
