"""The library as the web app reads it: video summaries, documents and keyframe images.

Finished videos are listed from the ``documents/`` prefix of the bucket (the same enumeration
``videosense find`` uses, :mod:`videosense.documents`); videos still processing come from the
document table's sparse "due" index, which holds exactly the videos whose completion is not
published yet. A video's status, media facts and stages come from its header (one small read);
its whole document from ``documents/{video_id}.json`` once finished, else from the table. See
``docs/architecture.md`` ("The web app").
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from videosense.documents import FinishedDocumentNotFoundError, read_finished
from videosense_shared.document import StageInfo, VideoDocument
from videosense_shared.layout import (
    DOCUMENTS_PREFIX,
    FRAMES_PREFIX,
    document_key,
    is_document_key,
)
from videosense_shared.messages import ImageRef, Keyframe, SourceRef, Stage, VideoStatus, utc_now
from videosense_shared.objects import is_missing
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DocumentNotFoundError, DynamoDocumentStore, Header
from videosense_shared.store.keys import KEYFRAME_PREFIX
from videosense_shared.topology import PARTITION_KEY, SORT_KEY

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client

#: What a video id may look like in a URL: the pipeline's ids are short digests; anything else
#: (slashes, dots, 10 KB of text) names no video and is refused before any AWS call.
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
KEYFRAME_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

#: Most videos still processing shown at once (the "due" index holds only those, so few).
MAX_PROCESSING = 1000
#: Header reads in flight at once while listing.
_READ_CONCURRENCY = 16
#: Videos whose keyframe list is cached; a keyframe's image never changes once written.
_KEYFRAME_CACHE = 256
#: A keyframe asked for that the cached list lacks refreshes the list at most this often (a
#: video still being analysed gains keyframes; an unknown id must not cost a query each time).
_KEYFRAME_REFRESH_S = 2.0


class VideoNotFoundError(LookupError):
    """No video with this id (or an id no video can have)."""


class VideoNotFinishedError(Exception):
    """The video exists but its analysis has not finished (no ``documents/`` object yet)."""

    def __init__(self, video_id: str, status: VideoStatus) -> None:
        super().__init__(f"video {video_id} is still being analysed ({status.value})")
        self.status = status


class KeyframeNotFoundError(LookupError):
    """The video has no keyframe with this id."""


class VideoSummary(BaseModel):
    """What the library shows of one video."""

    video_id: str
    name: str  # the upload's key without the uploads prefix
    source_key: str
    status: VideoStatus
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    size_bytes: int
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    has_video: bool | None = None
    has_audio: bool | None = None
    stages: dict[Stage, StageInfo]
    page_url: str
    thumbnail_url: str


class VideoPage(BaseModel):
    """One page of the library: videos still processing first (on the first page only), then
    finished ones, each group newest first; ``next_cursor`` continues with the next page."""

    videos: list[VideoSummary]
    next_cursor: str | None = None


def valid_video_id(video_id: str) -> str:
    """``video_id`` when it has the shape of a video id.

    Raises:
        VideoNotFoundError: it cannot be one.
    """
    if not VIDEO_ID.fullmatch(video_id):
        raise VideoNotFoundError(video_id)
    return video_id


def summary_of(header: Header, uploads_prefix: str) -> VideoSummary:
    """The summary of the video ``header`` describes."""
    key = header.source.key
    media = header.media
    return VideoSummary(
        video_id=header.video_id,
        name=key.removeprefix(uploads_prefix) or key,
        source_key=key,
        status=header.status,
        error=header.error,
        created_at=header.created_at,
        completed_at=header.completed_at,
        size_bytes=header.source.size_bytes,
        duration_s=media.duration_s if media else None,
        width=media.width if media and media.has_video else None,
        height=media.height if media and media.has_video else None,
        has_video=media.has_video if media else None,
        has_audio=media.has_audio if media else None,
        stages=header.stages,
        page_url=f"/videos/{header.video_id}",
        thumbnail_url=f"/api/videos/{header.video_id}/thumbnail",
    )


class Library:
    """Reads the library through injected clients: the media bucket and the document table."""

    def __init__(self, s3: S3Client, dynamodb: DynamoDBClient, common: CommonSettings) -> None:
        self._s3 = s3
        self._db = dynamodb
        self._common = common
        self._store = DynamoDocumentStore(dynamodb, common.table_name)
        self._keyframes: OrderedDict[str, tuple[float, dict[str, Keyframe]]] = OrderedDict()
        self._keyframes_lock = asyncio.Lock()

    @property
    def bucket(self) -> str:
        """The media bucket."""
        return self._common.bucket

    async def page(self, *, cursor: str | None, limit: int, processing_only: bool) -> VideoPage:
        """A page of video summaries (see :class:`VideoPage`).

        Raises:
            botocore.exceptions.ClientError: S3 or DynamoDB refused a request.
        """
        processing: list[str] = []
        if cursor is None:
            # Far in the future: every video whose completion is not published yet.
            until = utc_now() + timedelta(days=36_500)
            processing = await self._store.due_videos(until, MAX_PROCESSING)
        finished: list[str] = []
        next_cursor: str | None = None
        if not processing_only:
            kwargs: dict[str, Any] = {
                "Bucket": self.bucket,
                "Prefix": DOCUMENTS_PREFIX,
                "MaxKeys": limit,
            }
            if cursor:
                kwargs["ContinuationToken"] = cursor
            resp = await self._s3.list_objects_v2(**kwargs)
            for item in resp.get("Contents", []):
                key = item["Key"]
                if is_document_key(key):
                    finished.append(key.removeprefix(DOCUMENTS_PREFIX).removesuffix(".json"))
            next_cursor = resp.get("NextContinuationToken") if resp.get("IsTruncated") else None
        headers = await self._headers(dict.fromkeys([*processing, *finished]))
        summaries = [summary_of(h, self._common.uploads_prefix) for h in headers]
        if processing_only:
            summaries = [s for s in summaries if s.status is VideoStatus.PROCESSING]
        # Processing first, then newest first: what a user just uploaded is at the top.
        summaries.sort(
            key=lambda s: (s.status is not VideoStatus.PROCESSING, -s.created_at.timestamp())
        )
        return VideoPage(videos=summaries, next_cursor=next_cursor)

    async def _headers(self, video_ids: Iterable[str]) -> list[Header]:
        gate = asyncio.Semaphore(_READ_CONCURRENCY)

        async def one(video_id: str) -> Header | None:
            if not VIDEO_ID.fullmatch(video_id):
                return None  # a stray object under documents/ names no video
            async with gate:
                try:
                    return await self._store.header(video_id)
                except DocumentNotFoundError:
                    return None  # listed, then gone (or a document without a header)

        found = await asyncio.gather(*(one(v) for v in video_ids))
        return [h for h in found if h is not None]

    async def summary(self, video_id: str) -> VideoSummary:
        """One video's summary.

        Raises:
            VideoNotFoundError: no such video.
            botocore.exceptions.ClientError: DynamoDB refused the read.
        """
        return summary_of(await self._header(video_id), self._common.uploads_prefix)

    async def _header(self, video_id: str) -> Header:
        try:
            return await self._store.header(valid_video_id(video_id))
        except DocumentNotFoundError:
            raise VideoNotFoundError(video_id) from None

    async def require_finished(self, video_id: str) -> VideoSummary:
        """The summary of a video whose finished document is published (what the clipper
        reads): one header read and one HEAD.

        Raises:
            VideoNotFoundError: no such video.
            VideoNotFinishedError: the video is still being analysed.
            botocore.exceptions.ClientError: S3 or DynamoDB refused a read.
        """
        header = await self._header(video_id)
        if header.status is VideoStatus.PROCESSING:
            raise VideoNotFinishedError(video_id, header.status)
        try:
            await self._s3.head_object(Bucket=self.bucket, Key=document_key(video_id))
        except ClientError as err:
            if not is_missing(err):
                raise
            # Finished in the table, its document not published yet (a moment's gap).
            raise VideoNotFinishedError(video_id, header.status) from None
        return summary_of(header, self._common.uploads_prefix)

    async def source(self, video_id: str) -> SourceRef:
        """The uploaded object a video was analysed from.

        Raises:
            VideoNotFoundError: no such video.
            botocore.exceptions.ClientError: DynamoDB refused the read.
        """
        return (await self._header(video_id)).source

    async def document(self, video_id: str) -> VideoDocument:
        """The video's document: the finished one (one S3 read), or as far as it has come.

        Raises:
            VideoNotFoundError: no such video.
            botocore.exceptions.ClientError: S3 or DynamoDB refused a read.
        """
        valid_video_id(video_id)
        try:
            return await read_finished(self._s3, self.bucket, video_id)
        except (FinishedDocumentNotFoundError, ValidationError):
            pass  # still processing (or an unreadable object): the table has it
        try:
            return await self._store.read(video_id)
        except DocumentNotFoundError:
            raise VideoNotFoundError(video_id) from None

    async def keyframe_image(self, video_id: str, keyframe_id: str) -> ImageRef:
        """The JPEG of one keyframe of the video, as its document records it.

        Only a keyframe the video's own document lists is ever answered, and only when its
        image lies under that video's frames in the media bucket: no request names an object.

        Raises:
            VideoNotFoundError: the id cannot be a video's.
            KeyframeNotFoundError: the video has no such keyframe.
            botocore.exceptions.ClientError: DynamoDB refused the read.
        """
        valid_video_id(video_id)
        if not KEYFRAME_ID.fullmatch(keyframe_id):
            raise KeyframeNotFoundError(keyframe_id)
        keyframes = await self._keyframe_map(video_id, want=keyframe_id)
        keyframe = keyframes.get(keyframe_id)
        if keyframe is None:
            raise KeyframeNotFoundError(keyframe_id)
        return self._checked(video_id, keyframe.image)

    async def thumbnail(self, video_id: str) -> ImageRef:
        """The image of the video's first keyframe.

        Raises:
            VideoNotFoundError: the id cannot be a video's.
            KeyframeNotFoundError: the video has no keyframe (yet, or audio only).
            botocore.exceptions.ClientError: DynamoDB refused the read.
        """
        valid_video_id(video_id)
        keyframes = await self._keyframe_map(video_id, want=None)
        if not keyframes:
            raise KeyframeNotFoundError(f"{video_id} has no keyframe")
        first = min(keyframes.values(), key=lambda k: k.frame)
        return self._checked(video_id, first.image)

    def _checked(self, video_id: str, image: ImageRef) -> ImageRef:
        # Defence in depth: a document is written by the pipeline, but the app serves only
        # this video's frames from this bucket, whatever an item says.
        if image.bucket != self.bucket or not image.key.startswith(f"{FRAMES_PREFIX}{video_id}/"):
            raise KeyframeNotFoundError(image.key)
        return image

    async def _keyframe_map(self, video_id: str, *, want: str | None) -> dict[str, Keyframe]:
        async with self._keyframes_lock:
            cached = self._keyframes.get(video_id)
            if cached is not None:
                fetched_at, keyframes = cached
                fresh = time.monotonic() - fetched_at < _KEYFRAME_REFRESH_S
                if (want is None and keyframes) or want in keyframes or fresh:
                    self._keyframes.move_to_end(video_id)
                    return keyframes
        keyframes = await self._query_keyframes(video_id)
        async with self._keyframes_lock:
            self._keyframes[video_id] = (time.monotonic(), keyframes)
            self._keyframes.move_to_end(video_id)
            while len(self._keyframes) > _KEYFRAME_CACHE:
                self._keyframes.popitem(last=False)
        return keyframes

    async def _query_keyframes(self, video_id: str) -> dict[str, Keyframe]:
        # Only the frame stage's own attribute: id, frame, time and image, not the results.
        kwargs: dict[str, Any] = {
            "TableName": self._common.table_name,
            "KeyConditionExpression": "#pk = :id AND begins_with(#sk, :kf)",
            "ProjectionExpression": "#sk, #data",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY, "#data": "data"},
            "ExpressionAttributeValues": {":id": {"S": video_id}, ":kf": {"S": KEYFRAME_PREFIX}},
        }
        keyframes: dict[str, Keyframe] = {}
        while True:
            resp = await self._db.query(**kwargs)
            for item in resp.get("Items", []):
                if "data" in item:  # results another stage stored before the frame itself
                    keyframe = Keyframe.model_validate_json(item["data"]["S"])
                    keyframes[keyframe.id] = keyframe
            last = resp.get("LastEvaluatedKey")
            if not last:
                return keyframes
            kwargs["ExclusiveStartKey"] = last
