"""Amazon Transcribe: an asynchronous job on the uploaded S3 object, polled without holding a
worker, its result JSON read back from the bucket.

Idempotency: the job name derives from the video id (``<prefix>-<video_id>``), so a redelivered
message finds the job it started before (GetTranscriptionJob first; a ConflictException from a
racing StartTranscriptionJob also means "already started") and never starts a second one.

Which file: Transcribe takes an S3 URI (``Media.MediaFileUri``), which names a key and has no
way to name a version or an ETag, so the job reads whatever the key holds when it runs. Rather
than copy every video to a private key first (a full copy of a multi-GB file per video, a
multipart copy above 5 GB, and a second object to clean up), the backend checks that the key
still holds the announced object (``If-Match`` on its ETag) before starting the job and again
when it has finished. A key overwritten in between fails the stage with "the object was
overwritten before it was analysed": never a transcript of the wrong file. The cost of that
choice: on a versioned bucket the first version is still readable by its id, yet its transcript
fails instead of being made from it; and a key overwritten and then restored to the very same
bytes while the job ran goes unnoticed, though the job may have read the other file meanwhile.

Waiting: while the job is queued or running, :class:`TranscriptionPendingError` asks the
consumer to bring the message back after a growing delay, so no worker waits for minutes. Each
of those returns counts as a receive, and the queue dead-letters a message after its redrive
limit; on the last receive before that limit the backend therefore keeps the message (the
consumer's heartbeat extends its visibility) and polls in place until the job ends or
``transcribe_timeout_s`` after the job was created.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, NoCredentialsError

from transcriber.backend import (
    TranscriptionError,
    TranscriptionPendingError,
    TranscriptionRequest,
    TranscriptionResult,
)
from transcriber.settings import TranscriberSettings
from transcriber.transcribe_result import TranscribeResultError, transcript_from_result
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus.backoff import nominal_delay_s
from videosense_shared.layout import transcript_key
from videosense_shared.logs import get_logger
from videosense_shared.objects import SourceUnavailableError, check_current, is_missing, read_bytes

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_transcribe import TranscribeServiceClient
    from types_aiobotocore_transcribe.literals import MediaFormatType
    from types_aiobotocore_transcribe.type_defs import TranscriptionJobTypeDef

log = get_logger(__name__)

NAME = "transcribe"

_MEDIA_FORMATS: dict[str, MediaFormatType] = {
    ".mp3": "mp3",
    ".mp4": "mp4",
    ".m4a": "m4a",
    ".wav": "wav",
    ".flac": "flac",
    ".ogg": "ogg",
    ".amr": "amr",
    ".webm": "webm",
}
# Errors that mean "this account/config cannot use Transcribe", not "this video is bad".
_UNAVAILABLE_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "SubscriptionRequiredException",
    }
)


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")) or _code(err)


def _job_not_found(err: ClientError) -> bool:
    # The API documents NotFoundException; the service has long answered a missing job with
    # BadRequestException "The requested job couldn't be found".
    code = _code(err)
    return code == "NotFoundException" or (
        code == "BadRequestException" and "couldn't be found" in _message(err)
    )


def check_settings(settings: TranscriberSettings) -> None:
    """Refuse settings Transcribe would reject for every video.

    Raises:
        BackendUnavailableError: the language is neither ``auto`` nor a code with a region.
    """
    language = settings.language
    if language != "auto" and "-" not in language:
        raise BackendUnavailableError(
            f"Amazon Transcribe needs a language code with its region (e.g. 'en-US'), "
            f"not {language!r}; or 'auto' to identify the language"
        )


class AmazonTranscribeBackend:
    """Transcribes a video with an Amazon Transcribe batch job."""

    def __init__(
        self,
        client: Callable[[], Awaitable[TranscribeServiceClient]],
        s3: S3Client,
        settings: TranscriberSettings,
    ) -> None:
        """``client`` gives the Transcribe client (created on first use, so a worker that is not
        configured for Transcribe never builds one).

        Raises:
            BackendUnavailableError: the language setting is not one Transcribe accepts.
        """
        check_settings(settings)
        self._client = client
        self._s3 = s3
        self._settings = settings

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        return NAME

    def job_name(self, video_id: str) -> str:
        """The deterministic job name of a video."""
        return f"{self._settings.common.prefix}-{video_id}"

    def output_key(self, video_id: str) -> str:
        """Where the job writes its result JSON in the media bucket."""
        return transcript_key(video_id, self._settings.transcribe_output_prefix)

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Start the video's job (once), or collect its result when it has finished.

        Raises:
            TranscriptionPendingError: the job is still queued or running.
            TranscriptionError: the job failed, timed out, or its result is unreadable; or the
                key no longer holds the announced object (before the start or at the end).
            BackendUnavailableError: no credentials, or access to Transcribe is denied.
            botocore.exceptions.ClientError: a transient AWS failure.
        """
        try:
            job = await self._get(request.video_id)
            if job is None:
                job = await self._start(request)
            while True:
                status = job.get("TranscriptionJobStatus")
                if status == "COMPLETED":
                    return await self._result(request, job)
                if status == "FAILED":
                    reason = job.get("FailureReason") or "no reason given"
                    raise TranscriptionError(f"the Amazon Transcribe job failed: {reason}")
                self._check_age(job)
                delay = self._poll_delay(request.attempt.number)
                left = request.attempt.left
                if left is None or left > 0:
                    raise TranscriptionPendingError(
                        f"Transcribe job {job.get('TranscriptionJobName')} is {status}",
                        retry_after_s=delay,
                    )
                # The last delivery that may still run the work (the one after it only gives
                # up): wait here, the heartbeat keeps the message invisible meanwhile.
                await asyncio.sleep(delay)
                job = await self._get(request.video_id)
                if job is None:
                    raise TranscriptionError("the Amazon Transcribe job disappeared")
        except NoCredentialsError as err:
            raise BackendUnavailableError(
                f"no AWS credentials for Amazon Transcribe: {err}"
            ) from err
        except ClientError as err:
            if _code(err) in _UNAVAILABLE_CODES:
                raise BackendUnavailableError(
                    f"Amazon Transcribe is not available: {_code(err)}: {_message(err)}"
                ) from err
            raise

    def _poll_delay(self, receive_count: int) -> int:
        # No jitter: the job finishes on its own schedule, and polls of different videos are
        # not synchronised by an outage.
        return int(
            nominal_delay_s(
                receive_count,
                base_s=self._settings.transcribe_poll_s,
                cap_s=self._settings.transcribe_max_poll_s,
            )
        )

    def _check_age(self, job: TranscriptionJobTypeDef) -> None:
        created = job.get("CreationTime")
        if created is None:
            return
        age = (datetime.now(UTC) - created).total_seconds()
        if age > self._settings.transcribe_timeout_s:
            raise TranscriptionError(
                f"the Amazon Transcribe job is still {job.get('TranscriptionJobStatus')} "
                f"{int(age)} s after it was created (limit {self._settings.transcribe_timeout_s} s)"
            )

    async def _get(self, video_id: str) -> TranscriptionJobTypeDef | None:
        client = await self._client()
        try:
            resp = await client.get_transcription_job(TranscriptionJobName=self.job_name(video_id))
        except ClientError as err:
            if _job_not_found(err):
                return None
            raise
        return resp["TranscriptionJob"]

    async def _check_source(self, request: TranscriptionRequest) -> None:
        # The job reads the key, not a version: see the module docstring.
        try:
            await check_current(self._s3, request.source)
        except SourceUnavailableError as err:
            raise TranscriptionError(err.reason) from err

    async def _start(self, request: TranscriptionRequest) -> TranscriptionJobTypeDef:
        await self._check_source(request)
        name = self.job_name(request.video_id)
        settings = self._settings
        params: dict[str, Any] = {
            "TranscriptionJobName": name,
            "Media": {"MediaFileUri": f"s3://{request.source.bucket}/{request.source.key}"},
            "OutputBucketName": settings.common.bucket,
            "OutputKey": self.output_key(request.video_id),
        }
        media_format = _MEDIA_FORMATS.get(PurePosixPath(request.source.key).suffix.lower())
        if media_format is not None:
            params["MediaFormat"] = media_format
        if settings.language == "auto":
            params["IdentifyLanguage"] = True
        else:
            params["LanguageCode"] = settings.language
        if settings.transcribe_speaker_labels:
            params["Settings"] = {
                "ShowSpeakerLabels": True,
                "MaxSpeakerLabels": settings.transcribe_max_speakers,
            }
        client = await self._client()
        try:
            resp = await client.start_transcription_job(**params)
        except ClientError as err:
            code = _code(err)
            if code == "ConflictException":
                # Started by an earlier delivery that crashed before we saw the answer.
                job = await self._get(request.video_id)
                if job is not None:
                    return job
                raise
            if code == "BadRequestException":
                raise TranscriptionError(
                    f"Amazon Transcribe refused the video: {_message(err)}"
                ) from err
            if code == "LimitExceededException":
                raise TranscriptionPendingError(
                    f"Amazon Transcribe job limit reached: {_message(err)}",
                    retry_after_s=settings.transcribe_max_poll_s,
                ) from err
            raise
        log.info("transcribe job started", job=name)
        return resp["TranscriptionJob"]

    async def _result(
        self, request: TranscriptionRequest, job: TranscriptionJobTypeDef
    ) -> TranscriptionResult:
        await self._check_source(request)
        key = self.output_key(request.video_id)
        try:
            data = await read_bytes(self._s3, self._settings.common.bucket, key)
        except ClientError as err:
            if not is_missing(err):
                raise
            raise TranscriptionError(
                f"the Amazon Transcribe job completed but its result s3://"
                f"{self._settings.common.bucket}/{key} is missing"
            ) from err
        try:
            document = json.loads(data)
            transcript = transcript_from_result(
                document, job.get("LanguageCode"), request.duration_s or None
            )
        except (ValueError, TranscribeResultError) as err:
            raise TranscriptionError(f"the Amazon Transcribe result is unreadable: {err}") from err
        return TranscriptionResult(
            transcript=transcript, model=None, started_at=job.get("StartTime")
        )
