"""The indexer's unit of work: one ``VideoCompleted`` -> the video's entries in the index.

Idempotent by construction: indexing a document replaces whatever the video had, so a
redelivery (or the same completion published twice in the window completion allows) writes the
same entries again. A failed video is indexed too, with no entries, so it is listed.

The give-up rule: on the last delivery, a document that cannot be read (gone, or not a
document) does not lose the video: it is indexed from the event itself (status, source,
error), with no entries and the reason as its error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import TypeAdapter, ValidationError

from videosense_shared.bus import Delivery, PoisonMessage, RetryableError, parse_typed
from videosense_shared.document import StageInfo, VideoDocument
from videosense_shared.layout import document_key
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import VideoCompleted, VideoStatus
from videosense_shared.objects import is_missing, read_bytes
from videosense_shared.search import SearchIndex

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

_INPUT: TypeAdapter[VideoCompleted] = TypeAdapter(VideoCompleted)


class UnreadableDocumentError(Exception):
    """The completed video's document cannot be read (missing, or not a document)."""


class Indexer:
    """Indexes finished videos."""

    def __init__(self, index: SearchIndex, s3: S3Client, bucket: str) -> None:
        self._index = index
        self._s3 = s3
        self._bucket = bucket

    async def handle(self, delivery: Delivery) -> None:
        """Consume one ``VideoCompleted``.

        Raises:
            PoisonMessage: not a ``VideoCompleted``.
            RetryableError: the document is not readable yet (not the last delivery).
            SearchIndexError: the index refused or could not be reached; the message comes
                back.
        """
        event = parse_typed(delivery, _INPUT)
        with bound(video_id=event.video_id, trace_id=event.trace_id):
            try:
                document = await self._document(event)
            except UnreadableDocumentError as err:
                if not delivery.is_last:
                    raise RetryableError(str(err)) from err
                # Last chance: list the video with the reason rather than lose it.
                log.warning("indexing from the event alone", reason=str(err))
                document = _document_from_event(event, str(err))
            entries = await self._index.index_video(document)
            log.info("video indexed", status=document.status.value, entries=entries)

    async def _document(self, event: VideoCompleted) -> VideoDocument:
        bucket, key = (
            (event.document.bucket, event.document.key)
            if event.document is not None
            else (self._bucket, document_key(event.video_id))
        )
        try:
            raw = await read_bytes(self._s3, bucket, key)
        except ClientError as err:
            if is_missing(err):
                raise UnreadableDocumentError(f"no document at s3://{bucket}/{key}") from err
            raise
        try:
            document = VideoDocument.model_validate_json(raw)
        except ValidationError as err:
            raise UnreadableDocumentError(
                f"s3://{bucket}/{key} is not a video document ({err.error_count()} errors)"
            ) from err
        if document.video_id != event.video_id:
            raise PoisonMessage(
                f"s3://{bucket}/{key} is the document of {document.video_id}, "
                f"not of {event.video_id}"
            )
        return document


def _document_from_event(event: VideoCompleted, reason: str) -> VideoDocument:
    error = f"{event.error}; {reason}" if event.error else reason
    return VideoDocument(
        video_id=event.video_id,
        status=VideoStatus(event.status),
        error=error,
        source=event.source,
        created_at=event.occurred_at,
        completed_at=event.occurred_at,
        stages={stage: StageInfo(status=status) for stage, status in event.stages.items()},
    )
