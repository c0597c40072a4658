"""The recognizer's unit of work: one ``FramesExtracted`` chunk in, one ``RecognitionReady``
(or a ``StageFailed`` saying why recognition cannot run) out."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from recognizer.backend import RecognitionBackend, RecognitionError, decisive
from recognizer.features import Feature
from recognizer.settings import RecognizerSettings
from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import Attempt, Publisher, StageError, StageHandler
from videosense_shared.claimcheck import fit_for_sns
from videosense_shared.ids import message_id_for
from videosense_shared.logs import get_logger
from videosense_shared.messages import (
    FramesExtracted,
    Keyframe,
    KeyframeRecognition,
    RecognitionReady,
    Stage,
    utc_now,
)
from videosense_shared.objects import UnreadableImageError, read_keyframe

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)


class Recognizer(StageHandler[FramesExtracted]):
    """Runs the enabled features on every keyframe of a chunk, a few keyframes at a time.

    Idempotent: a redelivered chunk yields the same message id (and the same claim-check key),
    so the aggregator counts it once.
    """

    def __init__(
        self,
        s3: S3Client,
        publisher: Publisher,
        backends: BackendLoader[RecognitionBackend],
        settings: RecognizerSettings,
    ) -> None:
        super().__init__(Stage.RECOGNITION, FramesExtracted, publisher, backend=backends.name)
        self._s3 = s3
        self._backends = backends
        self._settings = settings
        self._features = settings.requested_features()
        # One gate for the worker, not one per chunk: the consumer handles several chunks at
        # once, and each keyframe in flight holds its image and the models' working memory.
        self._gate = asyncio.Semaphore(settings.keyframes_at_once())

    async def process(
        self, message: FramesExtracted, attempt: Attempt | None = None
    ) -> list[RecognitionReady]:
        """Recognize the chunk's keyframes; return its ``RecognitionReady``.

        Raises:
            StageError: the backend cannot run, or a keyframe cannot be recognized.
            RetryableError: transient trouble; the chunk should be tried again later.
        """
        started = utc_now()
        features = frozenset(self._features)
        try:
            backend = await self._backends.get()
            results = await self._recognize_all(backend, message.keyframes, features)
        except (BackendUnavailableError, RecognitionError) as err:
            raise StageError(err.reason) from err
        ready = RecognitionReady(
            message_id=message_id_for(
                message.message_id, "RecognitionReady", str(message.chunk_index)
            ),
            video_id=message.video_id,
            trace_id=message.trace_id,
            chunk_index=message.chunk_index,
            chunk_count=message.chunk_count,
            backend=backend.name,
            # In the configured order, so the document reads the same on every chunk.
            features=tuple(f.value for f in self._features),
            results=results,
            started_at=started,
            finished_at=utc_now(),
        )
        ready = await fit_for_sns(
            self._s3, self._settings.common.bucket, ready, "results", "results_ref"
        )
        log.info(
            "keyframes recognized",
            chunk=message.chunk_index,
            keyframes=len(results),
            faces=sum(len(r.faces) for r in results),
            labels=sum(len(r.labels) for r in results),
            text=sum(len(r.text) for r in results),
            seconds=round((utc_now() - started).total_seconds(), 2),
        )
        return [ready]

    async def _recognize_all(
        self,
        backend: RecognitionBackend,
        keyframes: tuple[Keyframe, ...],
        features: frozenset[Feature],
    ) -> tuple[KeyframeRecognition, ...]:
        async def one(keyframe: Keyframe) -> KeyframeRecognition:
            # The image is read inside the gate and dropped when the keyframe is done: at most
            # `keyframes_at_once` images in memory and in the backend, whatever the chunks.
            async with self._gate:
                try:
                    image = await read_keyframe(self._s3, keyframe.image)
                except UnreadableImageError as err:
                    # A definitive failure, weighed as such against the other keyframes'.
                    raise RecognitionError(err.reason) from err
                found = await backend.recognize(image, features)
            return KeyframeRecognition(
                keyframe_id=keyframe.id,
                frame=keyframe.frame,
                labels=found.labels,
                faces=found.faces,
                text=found.text,
            )

        # A TaskGroup cancels the other keyframes as soon as one fails; the consumer's policy
        # (fail the stage, retry, dead-letter) is decided on that first error, not on a group.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(kf)) for kf in keyframes]
        except ExceptionGroup as errors:
            raise decisive(errors) from errors
        return tuple(task.result() for task in tasks)
