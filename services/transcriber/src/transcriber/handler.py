"""The transcriber's unit of work: ``VideoIngested`` in, ``TranscriptReady`` out (or
``StageFailed``: skipped for a video with no audio, failed with a readable reason otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from transcriber.backend import (
    NoAudioError,
    TranscriptionBackend,
    TranscriptionError,
    TranscriptionPendingError,
    TranscriptionRequest,
)
from videosense_shared.bus import Delivery, Publisher, RetryableError, parse_typed
from videosense_shared.claimcheck import fit_for_sns
from videosense_shared.ids import message_id_for
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import (
    Stage,
    StageFailed,
    TranscriptReady,
    VideoIngested,
    utc_now,
)
from videosense_shared.topology import STAGE_TOPICS

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

NO_AUDIO = "the video has no audio track"
_INPUT: TypeAdapter[VideoIngested] = TypeAdapter(VideoIngested)
_TOPIC = STAGE_TOPICS[Stage.TRANSCRIPT.value]


class Transcriber:
    """Runs the transcript stage of one video with the configured backend."""

    def __init__(
        self, s3: S3Client, bucket: str, publisher: Publisher, backend: TranscriptionBackend
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._publisher = publisher
        self._backend = backend

    async def handle(self, delivery: Delivery) -> None:
        """Consume one ``VideoIngested``.

        Raises:
            PoisonMessage: not a valid ``VideoIngested``.
            RetryableError: an asynchronous job is still running (comes back later).
        """
        message = parse_typed(delivery, _INPUT)
        if Stage.TRANSCRIPT not in message.stages:
            return
        with bound(video_id=message.video_id, trace_id=message.trace_id):
            await self.process(message, receive_count=delivery.receive_count)

    async def process(self, message: VideoIngested, *, receive_count: int = 1) -> None:
        """Transcribe one video and publish the outcome (idempotent: same ids on redelivery).

        Raises:
            RetryableError: an asynchronous job is still running.
            botocore.exceptions.ClientError: a transient AWS failure (retried by the consumer).
        """
        if not message.media.has_audio:
            await self._fail(message, NO_AUDIO, skipped=True)
            return
        started = utc_now()
        request = TranscriptionRequest(
            video_id=message.video_id,
            source=message.source,
            duration_s=message.media.duration_s,
            receive_count=receive_count,
        )
        try:
            result = await self._backend.transcribe(request)
        except TranscriptionPendingError as pending:
            raise RetryableError(pending.reason, retry_after_s=pending.retry_after_s) from pending
        except NoAudioError:
            await self._fail(message, NO_AUDIO, skipped=True)
            return
        except TranscriptionError as err:
            await self._fail(message, err.reason)
            return
        ready = TranscriptReady(
            message_id=message_id_for(message.message_id, "TranscriptReady"),
            video_id=message.video_id,
            trace_id=message.trace_id,
            backend=self._backend.name,
            model=result.model,
            transcript=result.transcript,
            started_at=result.started_at or started,
            finished_at=utc_now(),
        )
        ready = await fit_for_sns(self._s3, self._bucket, ready, "transcript", "transcript_ref")
        await self._publisher.publish(_TOPIC, ready)
        log.info(
            "transcript ready",
            backend=self._backend.name,
            language=result.transcript.language,
            segments=len(result.transcript.segments),
            offloaded=ready.transcript_ref is not None,
        )

    async def _fail(self, message: VideoIngested, reason: str, *, skipped: bool = False) -> None:
        log.warning("transcript skipped" if skipped else "transcript failed", reason=reason)
        await self._publisher.publish(
            _TOPIC,
            StageFailed(
                message_id=message_id_for(
                    message.message_id, "StageFailed", Stage.TRANSCRIPT.value
                ),
                video_id=message.video_id,
                trace_id=message.trace_id,
                stage=Stage.TRANSCRIPT,
                error=reason,
                backend=self._backend.name,
                skipped=skipped,
            ),
        )
