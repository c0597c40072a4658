"""The one narrow interface every transcription backend implements, and how they fail.

A backend turns one video (an S3 object with known media facts) into a :class:`Transcript`.
Local backends download the video, extract its audio and run a model on the CPU; the Amazon
Transcribe backend hands the S3 object to an asynchronous job. The handler only sees this
Protocol and the exceptions below, which it maps onto the stage's outcome:

- :class:`NoAudioError`: the stage is *skipped* (there is nothing to transcribe);
- :class:`TranscriptionError`, and the shared
  :class:`videosense_shared.backends.BackendUnavailableError` (the backend cannot work here at
  all): the stage *fails* with the error's readable reason;
- :class:`TranscriptionPendingError`: the work goes on elsewhere; the message comes back later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from videosense_shared.bus import Attempt
from videosense_shared.messages import SourceRef, Transcript


@dataclass(frozen=True)
class TranscriptionRequest:
    """One video to transcribe.

    ``attempt`` says which delivery of the message this is and how many may still run the
    work: an asynchronous backend uses it to pace its polling within the queue's redrive limit.
    """

    video_id: str
    source: SourceRef
    duration_s: float
    attempt: Attempt = field(default_factory=lambda: Attempt(1, None))


@dataclass(frozen=True)
class TranscriptionResult:
    """A backend's transcript, the model that made it and, for jobs, when the job started."""

    transcript: Transcript
    model: str | None = None
    started_at: datetime | None = None


class TranscriptionError(Exception):
    """The video cannot be transcribed by this backend; ``reason`` is readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoAudioError(TranscriptionError):
    """The video has no audio track to transcribe."""


class TranscriptionPendingError(Exception):
    """An asynchronous job is still running: ask again in ``retry_after_s`` seconds."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class TranscriptionBackend(Protocol):
    """Turns a video into a transcript."""

    @property
    def name(self) -> str:
        """Backend name recorded in the document (``pocketsphinx``, ``whisper``...)."""
        ...

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Transcribe one video (idempotent: a redelivery gives the same transcript).

        Raises:
            NoAudioError: the video has no audio track.
            videosense_shared.backends.BackendUnavailableError: the backend cannot load or
                reach its model, or has no credentials.
            TranscriptionError: this video cannot be transcribed.
            TranscriptionPendingError: a job is still running; try again later.
            botocore.exceptions.ClientError: a transient AWS failure (retried by the consumer).
        """
        ...
