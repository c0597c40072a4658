"""Publishing ``VideoCompleted`` exactly once per outcome (a transactional outbox on the header).

Steps, each safe to repeat: set the final status with a condition (one winner), claim a short
lease, write ``documents/{video_id}.json``, publish, mark published. A crash anywhere leaves the
triggering message undeleted; its redelivery finds the final status and an expired lease and
publishes then. The event's ``message_id`` is deterministic, so even the one window that can
repeat (a crash after publishing, before marking) repeats the same id for subscribers to drop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel

from videosense_shared.bus import RetryableError
from videosense_shared.ids import message_id_for
from videosense_shared.layout import document_key
from videosense_shared.logs import get_logger
from videosense_shared.messages import DocumentRef, VideoCompleted
from videosense_shared.store import DocumentStore
from videosense_shared.topology import VIDEO_COMPLETED

log = get_logger(__name__)


class ObjectWriter(Protocol):
    """Where the assembled document is written: an S3 client (or anything with its
    ``put_object``)."""

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> object:  # noqa: N803 (S3's parameter names)
        """Store ``Body`` under ``Key`` in ``Bucket``."""
        ...


class EventPublisher(Protocol):
    """Where ``VideoCompleted`` goes: a :class:`~videosense_shared.bus.Publisher`."""

    async def publish(self, topic: str, message: BaseModel) -> None:
        """Publish ``message`` on the logical ``topic``."""
        ...


class Completion:
    """Finalises documents and announces them."""

    def __init__(
        self,
        store: DocumentStore,
        s3: ObjectWriter,
        publisher: EventPublisher,
        bucket: str,
        *,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self._store = store
        self._s3 = s3
        self._publisher = publisher
        self._bucket = bucket
        self._lease = lease

    async def complete_if_due(self, video_id: str) -> VideoCompleted | None:
        """Finalise and announce the video if every requested stage is terminal.

        Returns the event when this call published it, ``None`` when it is not due yet or was
        already published.

        Raises:
            RetryableError: another worker is publishing right now; try again later to make
                sure it finished.
            DocumentNotFoundError: no such video.
        """
        # finalize hands back the header it read: no second read on this hot path.
        header = await self._store.finalize(video_id)
        if header is None:
            return None
        if header.completion_published:
            return None
        if not await self._store.claim_completion(video_id, self._lease):
            if (await self._store.header(video_id)).completion_published:
                return None
            raise RetryableError(f"completion of {video_id} is being published by another worker")
        document = await self._store.read(video_id)
        key = document_key(video_id)
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=document.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )
        event = VideoCompleted(
            message_id=message_id_for(video_id, "VideoCompleted", document.status.value),
            video_id=video_id,
            trace_id=header.trace_id,
            status=document.status,
            source=document.source,
            stages={stage: info.status for stage, info in document.stages.items()},
            error=document.error,
            document=DocumentRef(bucket=self._bucket, key=key),
        )
        await self._publisher.publish(VIDEO_COMPLETED, event)
        await self._store.mark_published(video_id)
        log.info("video completed", status=event.status.value, document=key)
        return event
