"""The frame extractor's unit of work: ``VideoIngested`` in, keyframe JPEGs in S3 and
``FramesExtracted`` chunks out (or ``StageFailed`` for a video that cannot be decoded)."""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from frame_extractor.extraction import ExtractedKeyframe, ExtractionError, extract
from frame_extractor.settings import FrameExtractorSettings
from videosense_shared.bus import Attempt, Delivery, Publisher, StageError, StageWorker
from videosense_shared.ids import message_id_for
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    FramesExtracted,
    ImageRef,
    Keyframe,
    Scene,
    Stage,
    VideoIngested,
    utc_now,
)
from videosense_shared.topology import FRAMES_EXTRACTED

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)


def backend_name(settings: FrameExtractorSettings) -> str:
    """How this extractor is described in the document: decoder + scene detector."""
    if settings.detector == "pyscenedetect":
        return f"pyav+pyscenedetect-{settings.pyscenedetect_kind}"
    return "pyav+content"


_DOWNLOAD_PART = 8 * 1024 * 1024


def keyframe_key(video_id: str, frame: int) -> str:
    """S3 key of a keyframe JPEG."""
    return f"frames/{video_id}/{frame:09d}.jpg"


def chunk(
    scenes: Sequence[Scene], keyframes: Sequence[Keyframe], size: int
) -> list[tuple[tuple[Scene, ...], tuple[Keyframe, ...]]]:
    """Split scenes and keyframes into ``size``-bounded chunks (at least one chunk)."""
    count = max(1, math.ceil(len(scenes) / size), math.ceil(len(keyframes) / size))
    return [
        (tuple(scenes[i * size : (i + 1) * size]), tuple(keyframes[i * size : (i + 1) * size]))
        for i in range(count)
    ]


class FrameExtractor:
    """Runs the frame stage for one video at a time (several in parallel via the consumer)."""

    def __init__(
        self, s3: S3Client, publisher: Publisher, settings: FrameExtractorSettings
    ) -> None:
        self._s3 = s3
        self._settings = settings
        self._worker = StageWorker(
            stage=Stage.FRAMES,
            topic=FRAMES_EXTRACTED,
            input_type=VideoIngested,
            publisher=publisher,
            process=self.process,
            backend=backend_name(settings),
        )

    async def handle(self, delivery: Delivery) -> None:
        """Consume one ``VideoIngested`` (the stage-worker shape: see :class:`StageWorker`).

        Raises:
            PoisonMessage: not a valid ``VideoIngested``.
        """
        await self._worker.handle(delivery)

    async def process(
        self, message: VideoIngested, attempt: Attempt | None = None
    ) -> list[FramesExtracted]:
        """Extract and upload the keyframes of one video; return the ``FramesExtracted`` chunks
        (idempotent: same keys, same message ids on a redelivery).

        Raises:
            StageError: the upload is gone or cannot be decoded.
        """
        started = utc_now()
        with tempfile.TemporaryDirectory(prefix="videosense-frames-") as tmp:
            path = Path(tmp) / "video"
            try:
                await self._download(message, path)
            except ClientError as err:
                if err.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                raise StageError("the uploaded object no longer exists") from err
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
        parts = chunk(result.scenes, keyframes, self._settings.chunk_size)
        outputs = [
            FramesExtracted(
                message_id=message_id_for(message.message_id, "FramesExtracted", str(index)),
                video_id=message.video_id,
                trace_id=message.trace_id,
                stages=message.stages,
                chunk_index=index,
                chunk_count=len(parts),
                scene_count=len(result.scenes),
                keyframe_count=len(keyframes),
                scenes=scenes,
                keyframes=kfs,
                backend=backend_name(self._settings),
                started_at=started,
                finished_at=finished,
            )
            for index, (scenes, kfs) in enumerate(parts)
        ]
        log.info(
            "frames extracted",
            scenes=len(result.scenes),
            keyframes=len(keyframes),
            chunks=len(parts),
            seconds=round((finished - started).total_seconds(), 2),
        )
        return outputs

    async def _download(self, message: VideoIngested, path: Path) -> None:
        # Streamed to a temporary file in parts: never the whole video in memory.
        resp = await self._s3.get_object(Bucket=message.source.bucket, Key=message.source.key)
        async with resp["Body"] as body:
            with path.open("wb") as out:
                while part := await body.read(_DOWNLOAD_PART):
                    out.write(part)

    async def _upload(self, video_id: str, kf: ExtractedKeyframe) -> ImageRef:
        key = keyframe_key(video_id, kf.frame)
        await self._s3.put_object(
            Bucket=self._settings.common.bucket, Key=key, Body=kf.jpeg, ContentType="image/jpeg"
        )
        return ImageRef(
            bucket=self._settings.common.bucket, key=key, width=kf.width, height=kf.height
        )
