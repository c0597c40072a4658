"""The transcriber's unit of work: ``VideoIngested`` in, ``TranscriptReady`` out (or
``StageFailed``: skipped for a video with no audio, failed with a readable reason otherwise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from transcriber.backend import (
    NoAudioError,
    TranscriptionBackend,
    TranscriptionError,
    TranscriptionPendingError,
    TranscriptionRequest,
)
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
    Stage,
    TranscriptReady,
    VideoIngested,
    utc_now,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

NO_AUDIO = "the video has no audio track"


class Transcriber(StageHandler[VideoIngested]):
    """Runs the transcript stage of one video with the configured backend."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        publisher: Publisher,
        backends: BackendLoader[TranscriptionBackend],
    ) -> None:
        super().__init__(Stage.TRANSCRIPT, VideoIngested, publisher, backend=backends.name)
        self._s3 = s3
        self._bucket = bucket
        self._backends = backends

    async def process(
        self, message: VideoIngested, attempt: Attempt | None = None
    ) -> list[TranscriptReady]:
        """Transcribe one video; return its ``TranscriptReady`` (idempotent: same ids on a
        redelivery).

        Raises:
            StageError: no audio (skipped) or the backend cannot transcribe it (failed).
            RetryableError: an asynchronous job is still running.
            botocore.exceptions.ClientError: a transient AWS failure (retried by the consumer).
        """
        attempt = attempt or Attempt(1, None)
        if not message.media.has_audio:
            raise StageError(NO_AUDIO, skipped=True)
        started = utc_now()
        request = TranscriptionRequest(
            video_id=message.video_id,
            source=message.source,
            duration_s=message.media.duration_s,
            attempt=attempt,
        )
        try:
            backend = await self._backends.get()
            result = await backend.transcribe(request)
        except TranscriptionPendingError as pending:
            raise RetryableError(pending.reason, retry_after_s=pending.retry_after_s) from pending
        except NoAudioError as err:
            raise StageError(NO_AUDIO, skipped=True) from err
        except (TranscriptionError, BackendUnavailableError) as err:
            raise StageError(err.reason) from err
        ready = TranscriptReady(
            message_id=message_id_for(message.message_id, "TranscriptReady"),
            video_id=message.video_id,
            trace_id=message.trace_id,
            backend=backend.name,
            model=result.model,
            transcript=result.transcript,
            started_at=result.started_at or started,
            finished_at=utc_now(),
        )
        ready = await fit_for_sns(self._s3, self._bucket, ready, "transcript", "transcript_ref")
        log.info(
            "transcript ready",
            backend=backend.name,
            language=result.transcript.language,
            segments=len(result.transcript.segments),
            offloaded=ready.transcript_ref is not None,
        )
        return [ready]
