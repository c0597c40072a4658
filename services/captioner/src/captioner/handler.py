"""The captioner's unit of work: a ``FramesExtracted`` chunk in, ``CaptionsReady`` for the same
chunk out (or ``StageFailed`` when the backend cannot caption)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from captioner.backend import CaptionBackend, CaptioningError, TransientCaptioningError
from captioner.images import fit_image
from captioner.settings import CaptionerSettings
from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import (
    Attempt,
    Publisher,
    RetryableError,
    StageError,
    StageHandler,
)
from videosense_shared.claimcheck import fit_for_sns
from videosense_shared.ids import message_id_for
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    CaptionsReady,
    FramesExtracted,
    Keyframe,
    KeyframeCaption,
    Stage,
    utc_now,
)
from videosense_shared.objects import UnreadableImageError, read_keyframe

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

# Keyframe downloads in flight per chunk: S3 reads are cheap, but a 50-keyframe chunk should
# not open 50 connections at once.
_FETCH_CONCURRENCY = 8


class Captioner(StageHandler[FramesExtracted]):
    """Captions the keyframes of one chunk at a time (several chunks in parallel via the
    consumer, all sharing one backend)."""

    def __init__(
        self,
        s3: S3Client,
        publisher: Publisher,
        settings: CaptionerSettings,
        backends: BackendLoader[CaptionBackend],
    ) -> None:
        super().__init__(Stage.CAPTIONS, FramesExtracted, publisher, backend=settings.backend)
        self._s3 = s3
        self._settings = settings
        self._backends = backends

    async def process(
        self, message: FramesExtracted, attempt: Attempt | None = None
    ) -> list[CaptionsReady]:
        """Caption the chunk; return its ``CaptionsReady`` (idempotent: same message id on a
        redelivery).

        Raises:
            StageError: the backend cannot caption these keyframes.
            RetryableError: transient trouble; the stage worker gives up at the queue's limit.
        """
        started = utc_now()
        try:
            backend = await self._backends.get()
            captions = await self._caption(message, backend)
        except (CaptioningError, BackendUnavailableError, UnreadableImageError) as err:
            raise StageError(err.reason) from err
        except TransientCaptioningError as err:
            raise RetryableError(err.reason) from err
        result = CaptionsReady(
            message_id=message_id_for(message.message_id, "CaptionsReady"),
            video_id=message.video_id,
            trace_id=message.trace_id,
            chunk_index=message.chunk_index,
            chunk_count=message.chunk_count,
            backend=backend.name,
            model=backend.model,
            captions=captions,
            started_at=started,
            finished_at=utc_now(),
        )
        result = await fit_for_sns(
            self._s3, self._settings.common.bucket, result, "captions", "captions_ref"
        )
        log.info(
            "captions ready",
            keyframes=len(captions),
            backend=backend.name,
            model=backend.model,
            seconds=round((result.finished_at - started).total_seconds(), 2),
        )
        return [result]

    async def _caption(
        self, message: FramesExtracted, backend: CaptionBackend
    ) -> tuple[KeyframeCaption, ...]:
        if not message.keyframes:
            return ()
        gate = asyncio.Semaphore(_FETCH_CONCURRENCY)

        async def prepared(keyframe: Keyframe) -> bytes:
            async with gate:
                # A missing image fails the stage with its reason; S3 trouble is retried.
                data = await read_keyframe(self._s3, keyframe.image)
            return await asyncio.to_thread(fit_image, data, backend.limits)

        images = await asyncio.gather(*(prepared(kf) for kf in message.keyframes))
        texts = await backend.caption(images)
        if len(texts) != len(images):
            raise CaptioningError(
                f"backend returned {len(texts)} captions for {len(images)} keyframes"
            )
        return tuple(
            KeyframeCaption(keyframe_id=kf.id, frame=kf.frame, caption=text)
            for kf, text in zip(message.keyframes, texts, strict=True)
        )
