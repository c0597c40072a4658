"""The JSON API under ``/api/``: the library, documents, media, keyframe images, search,
uploads and clips. The pages are built on it; FastAPI describes it at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Annotated, Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from videosense.web.clips import (
    MAX_LISTED,
    ClipAccepted,
    ClipHistory,
    ClipOrder,
    ClipRequestNotFoundError,
    ClipRequestView,
)
from videosense.web.context import WebContext, web_context
from videosense.web.library import (
    KEYFRAME_ID,
    KeyframeNotFoundError,
    VideoNotFinishedError,
    VideoNotFoundError,
    VideoPage,
    VideoSummary,
)
from videosense.web.media import MediaUrl, presigned_media_url, read_image
from videosense.web.upload import UploadRejectedError, store_upload
from videosense_shared.document import VideoDocument
from videosense_shared.messages import ImageRef
from videosense_shared.objects import is_missing
from videosense_shared.search import EntryKind, MatchMode, SearchQuery, SearchResults
from videosense_shared.search.query import MAX_LIMIT

router = APIRouter(prefix="/api", tags=["api"])
Context = Annotated[WebContext, Depends(web_context)]

# Keyframes never change once written: browsers may keep them for a day.
_IMAGE_CACHE = "private, max-age=86400"
_NO_VIDEO = "no such video"
# SearchQuery's fields as the query string names them.
_PARAMS = {"text": "q", "kinds": "kind"}


class UploadAccepted(BaseModel):
    """An upload stored under the uploads prefix; the pipeline picks it up from there."""

    bucket: str
    key: str
    size_bytes: int
    video_id: str  # the id the video will have (its page: /videos/{video_id})
    container: str  # what its first bytes say it is


@router.get("/health", summary="Liveness (load balancer health checks)")
async def health() -> dict[str, str]:
    """Answers while the process serves requests; touches no AWS service."""
    return {"status": "ok"}


@router.get("/videos", summary="List the library")
async def list_videos(
    ctx: Context,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    processing: Annotated[bool, Query(description="only videos still processing")] = False,
) -> VideoPage:
    """Videos still processing first, then finished ones; ``cursor`` continues a listing."""
    return await ctx.library.page(cursor=cursor, limit=limit, processing_only=processing)


@router.get(
    "/videos/{video_id}",
    summary="One video's document",
    responses={404: {"description": _NO_VIDEO}},
)
async def get_document(ctx: Context, video_id: str) -> VideoDocument:
    """The schema-v1 document: finished, or as far as the analysis has come."""
    try:
        return await ctx.library.document(video_id)
    except VideoNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id!r}") from None


@router.get(
    "/videos/{video_id}/summary",
    summary="One video's library entry",
    responses={404: {"description": _NO_VIDEO}},
)
async def get_summary(ctx: Context, video_id: str) -> VideoSummary:
    """Status, media facts and stages, without scenes, keyframes or transcript."""
    try:
        return await ctx.library.summary(video_id)
    except VideoNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id!r}") from None


@router.get(
    "/videos/{video_id}/media",
    summary="A short-lived URL of the video itself",
    responses={404: {"description": _NO_VIDEO}},
)
async def get_media_url(ctx: Context, video_id: str) -> MediaUrl:
    """A presigned URL the player streams the uploaded video from; it expires soon."""
    try:
        source = await ctx.library.source(video_id)
    except VideoNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id!r}") from None
    return await presigned_media_url(ctx.signer, source, ctx.settings.media_url_ttl_s)


_JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "the JPEG"}
}


@router.get(
    "/videos/{video_id}/thumbnail",
    summary="The video's first keyframe",
    response_class=Response,
    responses={**_JPEG, 404: {"description": "no such video, or no keyframe yet"}},
)
async def get_thumbnail(ctx: Context, video_id: str) -> Response:
    """The JPEG of the first keyframe (404 while there is none, and for audio)."""
    try:
        image = await ctx.library.thumbnail(video_id)
    except (VideoNotFoundError, KeyframeNotFoundError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no keyframe") from None
    return await _jpeg(ctx, image)


@router.get(
    "/videos/{video_id}/keyframes/{keyframe_id}.jpg",
    summary="A keyframe's image",
    response_class=Response,
    responses={
        **_JPEG,
        400: {"description": "not a keyframe id"},
        404: {"description": "the video's document lists no such keyframe"},
    },
)
async def get_keyframe(ctx: Context, video_id: str, keyframe_id: str) -> Response:
    """Only keyframes the video's own document lists are served, never another object."""
    if not KEYFRAME_ID.fullmatch(keyframe_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a keyframe id")
    try:
        image = await ctx.library.keyframe_image(video_id, keyframe_id)
    except (VideoNotFoundError, KeyframeNotFoundError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such keyframe") from None
    return await _jpeg(ctx, image)


async def _jpeg(ctx: WebContext, image: ImageRef) -> Response:
    try:
        data = await read_image(ctx.s3, image)
    except ClientError as err:
        if is_missing(err):  # expired by the bucket's lifecycle rule
            raise HTTPException(status.HTTP_404_NOT_FOUND, "the image has expired") from None
        raise
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": _IMAGE_CACHE})


@router.get("/search", summary="Search the library")
async def search(
    ctx: Context,
    q: Annotated[str, Query(description="words to find")],
    mode: MatchMode = MatchMode.PHRASE,
    kind: Annotated[list[EntryKind] | None, Query(description="kinds searched (all)")] = None,
    video_id: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> SearchResults:
    """Every matching keyframe finding and transcript segment, grouped by video."""
    fields: dict[str, object] = {
        "text": q,
        "mode": mode,
        "video_id": video_id,
        "start_s": start_s,
        "end_s": end_s,
        "limit": limit,
    }
    if kind:
        fields["kinds"] = frozenset(kind)
    try:
        query = SearchQuery.model_validate(fields)
    except ValidationError as err:
        # The same 422 shape as FastAPI's own parameter checks, located in the query string.
        errors = err.errors(include_url=False, include_context=False)
        for error in errors:
            error["loc"] = ("query", *(_PARAMS.get(str(part), part) for part in error["loc"]))
        raise RequestValidationError(errors) from None
    return await ctx.index.search(query)


@router.post(
    "/uploads",
    summary="Upload a video or audio file",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"description": "empty, or no usable file name"},
        413: {"description": "larger than the configured limit"},
        415: {"description": "not a video or audio file"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes as the raw body, its type in Content-Type.",
            "content": {
                "video/*": {"schema": {"type": "string", "format": "binary"}},
                "audio/*": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload(
    ctx: Context,
    request: Request,
    filename: Annotated[str, Query(min_length=1, max_length=1024)],
) -> UploadAccepted:
    """Stream the body into the uploads prefix (part by part, never whole in memory)."""
    try:
        stored = await store_upload(
            ctx.s3,
            bucket=ctx.library.bucket,
            uploads_prefix=ctx.settings.common.uploads_prefix,
            filename=filename,
            content_type=request.headers.get("content-type", ""),
            body=request.stream(),
            max_bytes=ctx.settings.max_upload_bytes,
        )
    except UploadRejectedError as err:
        raise HTTPException(err.status, err.reason) from None
    return UploadAccepted(
        bucket=stored.bucket,
        key=stored.key,
        size_bytes=stored.size_bytes,
        video_id=stored.video_id,
        container=stored.container,
    )


@router.post(
    "/clips",
    summary="Ask for clips of a finished video",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": _NO_VIDEO},
        409: {"description": "the video is still being analysed"},
        422: {"description": "not a valid request (e.g. no selector, or two)"},
    },
)
async def request_clips(ctx: Context, order: ClipOrder, response: Response) -> ClipAccepted:
    """Send the request to the clipper; its answer is read at ``status_url`` (``pending`` until
    the clipper has answered ``complete``, ``empty`` or ``failed``)."""
    try:
        await ctx.library.require_finished(order.video_id)
    except VideoNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {order.video_id!r}") from None
    except VideoNotFinishedError as err:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"{err}: clips can be cut once it is finished"
        ) from None
    accepted = await ctx.clips.submit(order)
    response.headers["Location"] = accepted.status_url
    return accepted


@router.get(
    "/videos/{video_id}/clips",
    summary="A video's clip requests",
    responses={404: {"description": _NO_VIDEO}},
)
async def list_clips(
    ctx: Context, video_id: str, limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 20
) -> ClipHistory:
    """The latest requests, newest first, each as ``GET .../clips/{request_id}`` answers it."""
    try:
        await ctx.library.summary(video_id)
    except VideoNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no video {video_id!r}") from None
    return await ctx.clips.history(video_id, limit)


@router.get(
    "/videos/{video_id}/clips/{request_id}",
    summary="One clip request: pending, or its answer",
    responses={404: {"description": "no such clip request for this video"}},
)
async def get_clips(ctx: Context, video_id: str, request_id: str) -> ClipRequestView:
    """``pending``; ``complete`` with each file's ranges, method and short-lived URLs;
    ``empty`` or ``failed`` with the reason."""
    try:
        return await ctx.clips.status(video_id, request_id)
    except ClipRequestNotFoundError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such clip request") from None
