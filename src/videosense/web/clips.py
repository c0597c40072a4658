"""Clips on request from the web app: a ``ClipRequested`` sent to the clipper's queue, and the
request's status read back from what the clipper records.

A request lives under ``clips/{video_id}/{request_id}/``: the app writes ``request.json`` (the
``ClipRequested`` it sent), the clipper writes the MP4 files and ``result.json`` (its
``ClipsReady``, recorded for every answer: complete, empty or failed, the give-up answer
included). So a request is *pending* while only ``request.json`` exists, and a poll always ends:
every request carries a deadline (``VIDEOSENSE_WEB_CLIP_DEADLINE_S`` after it was sent), and
past it a request nobody answered in time reads ``failed`` ("no clipper answered within N s"),
by the same rule every reader applies (:mod:`videosense_shared.clip_answers`).
The message is sent before ``request.json`` is written: a request that could not be sent is
never left pending (the caller gets an error instead), while a record that could not be written
leaves at worst an answered request nobody polls. See ``docs/architecture.md`` ("The web app").

Files are handed out on short-lived presigned URLs, only for keys under the request's own
prefix in the library's bucket: a request names ids, never an object key.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from videosense.web.library import VIDEO_ID
from videosense_shared.bus import queue_url
from videosense_shared.bus.publisher import message_attributes
from videosense_shared.clip_answers import (
    DEFAULT_CLIP_DEADLINE_S,
    deadline_of,
    read_answer,
    settle,
)
from videosense_shared.ids import message_id_for
from videosense_shared.layout import CLIPS_PREFIX, clips_prefix
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    ClipFile,
    ClipRange,
    ClipRequested,
    ClipSelector,
    ClipSource,
    ClipsReady,
    utc_now,
)
from videosense_shared.objects import is_missing, read_bytes
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CLIPPER

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sqs import SQSClient

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)

#: What a request id may look like in a URL (the app's ids, and the command line's hex ids):
#: anything else (slashes, dots, other keys) names no request and is refused before any read.
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: The record the app writes beside the clipper's files.
REQUEST_RECORD = "request.json"
#: A file name safe to quote in a Content-Disposition header (the clipper's names are).
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")
#: Most requests a video's listing reads (each costs two small reads).
MAX_LISTED = 50


class ClipRequestNotFoundError(LookupError):
    """No such clip request for this video (or an id no request can have)."""


class ClipOrder(BaseModel):
    """What to cut from which finished video (the body of ``POST /api/clips``)."""

    model_config = ConfigDict(extra="forbid")

    video_id: str = Field(pattern=rf"^{VIDEO_ID.pattern}$", description="a finished video")
    selector: ClipSelector = Field(
        description=(
            "exactly one of person, label, text, say, from_s with to_s, or ranges (explicit spans)"
        )
    )
    pad_s: float = Field(default=0.0, ge=0, le=600, description="widen each range (seconds)")
    merge_gap_s: float = Field(
        default=0.0, ge=0, le=3600, description="join ranges closer than this (seconds)"
    )
    supercut: bool = Field(default=False, description="also join every range into one file")


class ClipState(StrEnum):
    """Where a clip request stands."""

    PENDING = "pending"  # sent; the clipper has not answered yet
    COMPLETE = "complete"
    EMPTY = "empty"  # nothing matched
    FAILED = "failed"  # see ``reason``


class ClipAccepted(BaseModel):
    """A clip request sent to the clipper; poll ``status_url`` for its answer."""

    request_id: str
    video_id: str
    status: ClipState = ClipState.PENDING
    status_url: str


class ClipDownload(BaseModel):
    """One file of an answer: what it holds, and where the browser gets it until
    ``expires_at`` (``url`` plays inline, ``download_url`` saves it under ``name``)."""

    name: str
    size_bytes: int
    ranges: tuple[ClipRange, ...]
    url: str
    download_url: str
    expires_at: datetime


class ClipRequestView(BaseModel):
    """A clip request as the page shows it: what was asked, and the answer when there is one."""

    request_id: str
    video_id: str
    status: ClipState
    reason: str | None = None
    source: ClipSource | None = None  # where the moments came from (face tracks, scenes...)
    selector: ClipSelector | None = None  # None for a request the app did not record
    pad_s: float | None = None
    merge_gap_s: float | None = None
    supercut: bool | None = None
    requested_at: datetime | None = None
    deadline_at: datetime | None = None  # pending past it, a request has failed
    finished_at: datetime | None = None
    clips: list[ClipDownload] = []
    supercut_file: ClipDownload | None = None
    status_url: str


class ClipHistory(BaseModel):
    """A video's clip requests, newest first."""

    video_id: str
    requests: list[ClipRequestView]


def new_request_id() -> str:
    """A fresh request id; ids of one video sort by the time they were made."""
    return f"{utc_now():%Y%m%dT%H%M%S%f}-{secrets.token_hex(6)}"


def status_url(video_id: str, request_id: str) -> str:
    """Where a request's status is read."""
    return f"/api/videos/{video_id}/clips/{request_id}"


def request_record_key(video_id: str, request_id: str) -> str:
    """S3 key of the request the app recorded."""
    return f"{clips_prefix(video_id, request_id)}{REQUEST_RECORD}"


class ClipDesk:
    """Sends clip requests and reads their answers (through injected clients)."""

    def __init__(
        self,
        s3: S3Client,
        signer: S3Client,
        sqs: SQSClient,
        common: CommonSettings,
        url_ttl_s: int,
        *,
        deadline_s: float = DEFAULT_CLIP_DEADLINE_S,
    ) -> None:
        self._s3 = s3
        self._deadline_s = deadline_s
        self._signer = signer
        self._sqs = sqs
        self._common = common
        self._url_ttl_s = url_ttl_s
        self._queue_url: str | None = None

    @property
    def bucket(self) -> str:
        """The media bucket (clips live under its ``clips/`` prefix)."""
        return self._common.bucket

    async def submit(self, order: ClipOrder) -> ClipAccepted:
        """Send ``order`` to the clipper as a new request, then record it.

        The caller has checked that the video exists and is finished.

        Raises:
            botocore.exceptions.ClientError: SQS or S3 refused (no clipper queue, no access).
        """
        request_id = new_request_id()
        now = utc_now()
        request = ClipRequested(
            message_id=message_id_for(request_id, "ClipRequested"),
            video_id=order.video_id,
            trace_id=request_id,
            request_id=request_id,
            selector=order.selector,
            pad_s=order.pad_s,
            merge_gap_s=order.merge_gap_s,
            supercut=order.supercut,
            occurred_at=now,
            deadline_at=now + timedelta(seconds=self._deadline_s),
        )
        await self._sqs.send_message(
            QueueUrl=await self._clipper_queue(),
            MessageBody=request.model_dump_json(),
            MessageAttributes=message_attributes(request),  # type: ignore[arg-type]
        )
        await self._s3.put_object(
            Bucket=self.bucket,
            Key=request_record_key(order.video_id, request_id),
            Body=request.model_dump_json().encode(),
            ContentType="application/json",
        )
        log.info("clip request sent", video_id=order.video_id, request_id=request_id)
        return ClipAccepted(
            request_id=request_id,
            video_id=order.video_id,
            status_url=status_url(order.video_id, request_id),
        )

    async def _clipper_queue(self) -> str:
        if self._queue_url is None:
            self._queue_url = await queue_url(self._sqs, self._common, CLIPPER)
        return self._queue_url

    async def status(self, video_id: str, request_id: str) -> ClipRequestView:
        """Where the request stands, with presigned URLs of its files once complete.

        Raises:
            ClipRequestNotFoundError: no such request for this video (or malformed ids).
            botocore.exceptions.ClientError: S3 refused a read.
        """
        if not VIDEO_ID.fullmatch(video_id) or not REQUEST_ID.fullmatch(request_id):
            raise ClipRequestNotFoundError(request_id)
        asked, recorded = await asyncio.gather(
            self._read(request_record_key(video_id, request_id), ClipRequested),
            read_answer(self._s3, self.bucket, video_id, request_id),
        )
        if asked is None and recorded is None:
            raise ClipRequestNotFoundError(request_id)
        if asked is None:
            answered = recorded.answer if recorded is not None else None
        else:
            # The one rule: recorded in time, failed past the deadline, pending otherwise
            # (a request recorded before requests carried a deadline gets the app's).
            answered = settle(asked, recorded, utc_now(), self._deadline_s)
        return await self._view(video_id, request_id, asked, answered)

    async def history(self, video_id: str, limit: int = MAX_LISTED) -> ClipHistory:
        """The video's latest ``limit`` requests (by id: the app's ids sort by time), newest
        first; unreadable ones are left out.

        Raises:
            botocore.exceptions.ClientError: S3 refused the listing.
        """
        prefix = f"{CLIPS_PREFIX}{video_id}/"
        ids: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                request_id = common.get("Prefix", "").removeprefix(prefix).rstrip("/")
                if REQUEST_ID.fullmatch(request_id):
                    ids.append(request_id)
        latest = sorted(ids)[-limit:]

        async def one(request_id: str) -> ClipRequestView | None:
            try:
                return await self.status(video_id, request_id)
            except ClipRequestNotFoundError:
                return None  # listed, then gone

        views = [v for v in await asyncio.gather(*(one(i) for i in latest)) if v is not None]
        views.sort(key=lambda v: (v.requested_at or v.finished_at or utc_now(), v.request_id))
        return ClipHistory(video_id=video_id, requests=views[::-1])

    async def _read(self, key: str, model: type[M]) -> M | None:
        try:
            raw = await read_bytes(self._s3, self.bucket, key)
        except ClientError as err:
            if is_missing(err):
                return None
            raise
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            log.warning("ignoring an unreadable clip record", key=key)
            return None

    async def _view(
        self,
        video_id: str,
        request_id: str,
        asked: ClipRequested | None,
        answered: ClipsReady | None,
    ) -> ClipRequestView:
        view = ClipRequestView(
            request_id=request_id,
            video_id=video_id,
            status=ClipState(answered.status.value) if answered else ClipState.PENDING,
            reason=answered.reason if answered else None,
            source=answered.source if answered else None,
            selector=asked.selector if asked else None,
            pad_s=asked.pad_s if asked else None,
            merge_gap_s=asked.merge_gap_s if asked else None,
            supercut=asked.supercut if asked else None,
            requested_at=asked.occurred_at if asked else None,
            deadline_at=deadline_of(asked, self._deadline_s) if asked else None,
            finished_at=answered.finished_at if answered else None,
            status_url=status_url(video_id, request_id),
        )
        if answered is None:
            return view
        prefix = clips_prefix(video_id, request_id)
        view.clips = [d for f in answered.clips if (d := await self._download(f, prefix))]
        if answered.supercut is not None:
            view.supercut_file = await self._download(answered.supercut, prefix)
        return view

    async def _download(self, clip: ClipFile, prefix: str) -> ClipDownload | None:
        # Only the request's own files in this bucket are signed, whatever a record says.
        name = PurePosixPath(clip.key).name
        if clip.bucket != self.bucket or clip.key != f"{prefix}{name}":
            log.warning("not signing a recorded file outside its request", key=clip.key)
            return None
        saved = name if _SAFE_NAME.fullmatch(name) else "clip.mp4"
        base = {"Bucket": clip.bucket, "Key": clip.key}
        url = await self._signer.generate_presigned_url(
            "get_object", Params=base, ExpiresIn=self._url_ttl_s
        )
        download_url = await self._signer.generate_presigned_url(
            "get_object",
            Params={**base, "ResponseContentDisposition": f'attachment; filename="{saved}"'},
            ExpiresIn=self._url_ttl_s,
        )
        return ClipDownload(
            name=name,
            size_bytes=clip.size_bytes,
            ranges=clip.ranges,
            url=url,
            download_url=download_url,
            expires_at=utc_now() + timedelta(seconds=self._url_ttl_s),
        )
