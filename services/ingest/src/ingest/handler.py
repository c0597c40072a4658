"""Ingest's unit of work: an S3 upload notification in, a document header and ``VideoIngested``
out (or a ``failed`` document and ``VideoCompleted(failed)`` for a file that is not a video)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ingest.notifications import MalformedNotification, UploadedObject, parse_s3_notification
from ingest.settings import IngestSettings, requestable_stages
from videosense_shared.bus import (
    Delivery,
    LastErrors,
    PoisonMessage,
    Publisher,
    give_up_reason,
)
from videosense_shared.completion import Completion
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.logs import bound, get_logger
from videosense_shared.media import MediaProbeError, probe_url
from videosense_shared.messages import MediaFacts, SourceRef, Stage, VideoIngested
from videosense_shared.store import DocumentStore
from videosense_shared.topology import VIDEO_INGESTED

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

STAGES_METADATA = "videosense-stages"  # x-amz-meta-videosense-stages: "frames,transcript"


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
        video_id = video_id_for(upload.bucket, upload.key, upload.version_id or upload.etag)
        trace_id = trace_id_for(video_id)
        with bound(video_id=video_id, trace_id=trace_id):
            source = SourceRef(
                bucket=upload.bucket,
                key=upload.key,
                etag=upload.etag.strip('"'),
                size_bytes=upload.size_bytes,
            )
            log.warning("ingest gave up", key=upload.key, reason=reason)
            # An existing header (a crash after creating it) is left to the per-video deadline.
            await self._store.create(
                video_id=video_id,
                trace_id=trace_id,
                source=source,
                media=None,
                stages=(),
                error=reason,
            )
            await self._completion.complete_if_due(video_id)

    async def ingest(self, upload: UploadedObject) -> None:
        """Accept or reject one uploaded object; idempotent per object version."""
        prefix = self._settings.common.uploads_prefix
        if not upload.key.startswith(prefix):
            log.info("ignored: outside the uploads prefix", key=upload.key, prefix=prefix)
            return
        video_id = video_id_for(upload.bucket, upload.key, upload.version_id or upload.etag)
        trace_id = trace_id_for(video_id)
        with bound(video_id=video_id, trace_id=trace_id):
            await self._ingest(upload, video_id, trace_id)

    async def _ingest(self, upload: UploadedObject, video_id: str, trace_id: str) -> None:
        source = SourceRef(
            bucket=upload.bucket,
            key=upload.key,
            etag=upload.etag.strip('"'),
            size_bytes=upload.size_bytes,
        )
        try:
            existing = await self._store.header(video_id)
        except LookupError:
            existing = None
        if existing is not None and (existing.ingest_published or existing.error):
            log.info("duplicate notification: already ingested", key=upload.key)
            await self._completion.complete_if_due(video_id)  # finish a crashed rejection
            return
        head = await self._head(upload)
        if head is None:
            log.warning("object is gone; nothing to ingest", key=upload.key)
            return
        metadata, size = head
        source = source.model_copy(update={"size_bytes": size})
        stages: tuple[Stage, ...] = ()
        media: MediaFacts | None = None
        error: str | None = None
        try:
            stages = self._stages(metadata)
            media = await self._probe(upload, size)
        except (ValueError, MediaProbeError) as err:
            error = str(err)
        if error is not None:
            log.warning("video rejected", key=upload.key, reason=error)
            await self._store.create(
                video_id=video_id,
                trace_id=trace_id,
                source=source,
                media=media,
                stages=(),
                error=error,
            )
            await self._completion.complete_if_due(video_id)
            return
        assert media is not None
        created = await self._store.create(
            video_id=video_id, trace_id=trace_id, source=source, media=media, stages=stages
        )
        if not created:
            # A concurrent duplicate created it first; it (or its redelivery) publishes.
            header = await self._store.header(video_id)
            if header.ingest_published:
                return
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
        log.info("video ingested", key=upload.key, stages=[s.value for s in stages])

    def _stages(self, metadata: dict[str, str]) -> tuple[Stage, ...]:
        requested = metadata.get(STAGES_METADATA)
        if requested is None:
            return self._settings.default_stages
        try:
            return requestable_stages(requested, self._settings.available)
        except ValueError as err:
            raise ValueError(f"invalid '{STAGES_METADATA}' metadata {requested!r}: {err}") from err

    async def _head(self, upload: UploadedObject) -> tuple[dict[str, str], int] | None:
        try:
            if upload.version_id:
                resp = await self._s3.head_object(
                    Bucket=upload.bucket, Key=upload.key, VersionId=upload.version_id
                )
            else:
                resp = await self._s3.head_object(Bucket=upload.bucket, Key=upload.key)
        except ClientError as err:
            if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return dict(resp.get("Metadata", {})), int(resp["ContentLength"])

    async def _probe(self, upload: UploadedObject, size: int) -> MediaFacts:
        if size == 0:
            raise MediaProbeError("empty file (0 bytes)")
        params = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id:
            params["VersionId"] = upload.version_id
        # Probing reads only the container headers through HTTP range requests on a presigned
        # URL, not the whole object; the blocking demuxer runs off the event loop.
        url = await self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self._settings.presign_expiry_s
        )
        return await asyncio.to_thread(probe_url, url, size, self._settings.probe_limits)
