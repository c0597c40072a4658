"""The frame extractor's unit of work: ``VideoIngested`` in, keyframe JPEGs in S3 and
``FramesExtracted`` chunks out (or ``StageFailed`` for a video that cannot be decoded)."""

from __future__ import annotations

import asyncio
import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from frame_extractor.chunks import frames_extracted
from frame_extractor.extraction import ExtractedKeyframe, ExtractionError, extract
from frame_extractor.settings import FrameExtractorSettings
from videosense_shared.bus import Attempt, Publisher, StageError, StageHandler
from videosense_shared.layout import keyframe_key
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    FramesExtracted,
    ImageRef,
    Keyframe,
    Stage,
    VideoIngested,
    utc_now,
)
from videosense_shared.objects import SourceUnavailableError, download_to_file

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

#: Why the frame stage of an audio-only upload is skipped (the document's stage error).
NO_VIDEO = "no video stream (audio only)"


def backend_name(settings: FrameExtractorSettings) -> str:
    """How this extractor is described in the document: decoder + scene detector."""
    if settings.detector == "pyscenedetect":
        return f"pyav+pyscenedetect-{settings.pyscenedetect_kind}"
    return "pyav+content"


class FrameExtractor(StageHandler[VideoIngested]):
    """Runs the frame stage for one video at a time (several in parallel via the consumer)."""

    def __init__(
        self, s3: S3Client, publisher: Publisher, settings: FrameExtractorSettings
    ) -> None:
        super().__init__(Stage.FRAMES, VideoIngested, publisher, backend=backend_name(settings))
        self._s3 = s3
        self._settings = settings

    async def process(
        self, message: VideoIngested, attempt: Attempt | None = None
    ) -> list[FramesExtracted]:
        """Extract and upload the keyframes of one video; return the ``FramesExtracted`` chunks
        (idempotent: same keys, same message ids on a redelivery).

        Raises:
            StageError: the uploaded version is gone or overwritten, or cannot be decoded;
                skipped for audio alone (nothing to look at).
        """
        if not message.media.has_video:
            # An audio-only upload: it gets a transcript; the aggregator skips the keyframe
            # stages along with this one.
            raise StageError(NO_VIDEO, skipped=True)
        started = utc_now()
        with tempfile.TemporaryDirectory(prefix="videosense-frames-") as tmp:
            path = Path(tmp) / "video"
            try:
                # The very version ingest probed, never whatever the key holds now.
                await download_to_file(self._s3, message.source, path)
            except SourceUnavailableError as err:
                raise StageError(err.reason) from err
            loop = asyncio.get_running_loop()
            uploads: list[Future[ImageRef]] = []

            def on_keyframe(kf: ExtractedKeyframe) -> None:
                # Called from the decode thread: upload on the loop while decoding goes on.
                uploads.append(
                    asyncio.run_coroutine_threadsafe(self._upload(message.video_id, kf), loop)
                )

            try:
                result = await asyncio.to_thread(extract, path, self._settings, on_keyframe)
            except ExtractionError as err:
                await asyncio.gather(*(asyncio.wrap_future(f) for f in uploads))
                raise StageError(str(err)) from err
            images = await asyncio.gather(*(asyncio.wrap_future(f) for f in uploads))
        by_frame = {image.key: image for image in images}
        keyframes = [
            Keyframe(
                id=f"kf{kf.frame:09d}",
                frame=kf.frame,
                t_s=kf.t_s,
                scene_index=kf.scene_index,
                image=by_frame[keyframe_key(message.video_id, kf.frame)],
            )
            for kf in result.keyframes
        ]
        finished = utc_now()
        outputs = frames_extracted(
            message,
            result.scenes,
            keyframes,
            size=self._settings.chunk_size,
            backend=backend_name(self._settings),
            started=started,
            finished=finished,
        )
        log.info(
            "frames extracted",
            scenes=len(result.scenes),
            keyframes=len(keyframes),
            chunks=len(outputs),
            seconds=round((finished - started).total_seconds(), 2),
        )
        return outputs

    async def _upload(self, video_id: str, kf: ExtractedKeyframe) -> ImageRef:
        key = keyframe_key(video_id, kf.frame)
        await self._s3.put_object(
            Bucket=self._settings.common.bucket, Key=key, Body=kf.jpeg, ContentType="image/jpeg"
        )
        return ImageRef(
            bucket=self._settings.common.bucket, key=key, width=kf.width, height=kf.height
        )
