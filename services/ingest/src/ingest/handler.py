"""Ingest's unit of work: an S3 upload notification in, a document header and ``VideoIngested``
out (or a ``failed`` document and ``VideoCompleted(failed)`` for a file that is not a video)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ingest.notifications import MalformedNotification, UploadedObject, parse_s3_notification
from ingest.settings import STAGES_METADATA, IngestSettings
from ingest.upload import head_upload, probe_upload
from videosense_shared.bus import (
    Delivery,
    LastErrors,
    PoisonMessage,
    Publisher,
    RetryableError,
    give_up_reason,
)
from videosense_shared.completion import Completion
from videosense_shared.ids import message_id_for, trace_id_for
from videosense_shared.logs import bound, get_logger
from videosense_shared.media import MediaProbeError
from videosense_shared.messages import SourceRef, VideoIngested
from videosense_shared.objects import SourceUnavailableError
from videosense_shared.store import DocumentStore
from videosense_shared.topology import VIDEO_INGESTED

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["STAGES_METADATA", "Ingest"]

log = get_logger(__name__)

# How long a delivery holds the right to publish VideoIngested: shorter than the ingest queue's
# visibility timeout, so the redelivery of a claimer that crashed can claim again.
INGEST_LEASE = timedelta(seconds=60)


class Ingest:
    """Accepts uploads into the pipeline."""

    def __init__(
        self,
        s3: S3Client,
        store: DocumentStore,
        publisher: Publisher,
        completion: Completion,
        settings: IngestSettings,
    ) -> None:
        self._s3 = s3
        self._store = store
        self._publisher = publisher
        self._completion = completion
        self._settings = settings
        self._last_errors = LastErrors()

    async def handle(self, delivery: Delivery) -> None:
        """Consume one S3 notification (it may hold several records).

        On the last delivery the queue allows, the uploads are not tried again: each gets a
        ``failed`` document saying why (the give-up rule of the stage worker, for ingest).

        Raises:
            PoisonMessage: the body is not an S3 notification.
        """
        try:
            uploads = parse_s3_notification(delivery.body)
        except MalformedNotification as err:
            raise PoisonMessage(f"not an S3 notification: {err}") from err
        key = delivery.sqs_message_id
        if delivery.is_last:
            reason = give_up_reason(delivery.receive_count - 1, self._last_errors.pop(key))
            for upload in uploads:
                await self.give_up(upload, reason)
            return
        try:
            for upload in uploads:
                await self.ingest(upload)
        except Exception as err:
            self._last_errors.remember(key, err)
            raise
        self._last_errors.pop(key)

    async def give_up(self, upload: UploadedObject, reason: str) -> None:
        """End an upload that keeps failing: a ``failed`` document with ``reason`` and its
        ``VideoCompleted``, unless it was already ingested (then its stages carry on)."""
        if not upload.key.startswith(self._settings.common.uploads_prefix):
            return
        video_id = upload.video_id()
        trace_id = trace_id_for(video_id)
        with bound(video_id=video_id, trace_id=trace_id):
            log.warning("ingest gave up", key=upload.key, reason=reason)
            # An existing header (a crash after creating it) is left to the per-video deadline.
            await self._fail(video_id, trace_id, upload.source_ref(), reason)

    async def ingest(self, upload: UploadedObject) -> None:
        """Accept or reject one uploaded object; idempotent per object version."""
        prefix = self._settings.common.uploads_prefix
        if not upload.key.startswith(prefix):
            log.info("ignored: outside the uploads prefix", key=upload.key, prefix=prefix)
            return
        video_id = upload.video_id()
        trace_id = trace_id_for(video_id)
        with bound(video_id=video_id, trace_id=trace_id):
            await self._ingest(upload.source_ref(), video_id, trace_id)

    async def _ingest(self, source: SourceRef, video_id: str, trace_id: str) -> None:
        try:
            existing = await self._store.header(video_id)
        except LookupError:
            existing = None
        if existing is not None and (existing.ingest_published or existing.error):
            log.info("duplicate notification: already ingested", key=source.key)
            await self._completion.complete_if_due(video_id)  # finish a crashed rejection
            return
        settings = self._settings
        try:
            head = await head_upload(self._s3, source)
            if head is None:
                log.warning("object is gone; nothing to ingest", key=source.key)
                return
            source = source.model_copy(update={"size_bytes": head.size_bytes})
            stages = settings.stages_for(head.metadata)
            media = await probe_upload(
                self._s3, source, head.size_bytes, settings.presign_expiry_s, settings.probe_limits
            )
        except (ValueError, MediaProbeError, SourceUnavailableError) as err:
            # Not a video, a bad request, or a key overwritten since the notification (the
            # new version is a video of its own, started by its own notification).
            log.warning("video rejected", key=source.key, reason=str(err))
            await self._fail(video_id, trace_id, source, str(err))
            return
        created = await self._store.create(
            video_id=video_id, trace_id=trace_id, source=source, media=media, stages=stages
        )
        if not created and (await self._store.header(video_id)).ingest_published:
            return
        # Of two notifications racing on one upload, one claims the right to publish; the other
        # comes back later and finds it published (or the lease of a crashed claimer expired).
        if not await self._store.claim_ingest(video_id, INGEST_LEASE):
            raise RetryableError(f"{video_id} is being ingested by another delivery")
        event = VideoIngested(
            message_id=message_id_for(video_id, "VideoIngested"),
            video_id=video_id,
            trace_id=trace_id,
            source=source,
            media=media,
            stages=stages,
        )
        await self._publisher.publish(VIDEO_INGESTED, event)
        await self._store.mark_ingest_published(video_id)
        log.info("video ingested", key=source.key, stages=[s.value for s in stages])

    async def _fail(self, video_id: str, trace_id: str, source: SourceRef, reason: str) -> None:
        """A ``failed`` document saying why, and its ``VideoCompleted``."""
        await self._store.create(
            video_id=video_id, trace_id=trace_id, source=source, media=None, stages=(), error=reason
        )
        await self._completion.complete_if_due(video_id)
