"""The interface of on-CPU speech models (pocketsphinx, Whisper): a WAV file in, a transcript
out. Synchronous and CPU-bound: callers run it off the event loop."""

from __future__ import annotations

from typing import Protocol

from transcriber.audio import ExtractedAudio
from videosense_shared.messages import Transcript


class SpeechModel(Protocol):
    """Recognizes the speech of a 16 kHz mono s16 WAV file."""

    @property
    def name(self) -> str:
        """Backend name recorded in the document."""
        ...

    @property
    def model(self) -> str | None:
        """The model used (a name or directory), if the backend has a choice."""
        ...

    def recognize(self, audio: ExtractedAudio) -> Transcript:
        """Transcribe ``audio``; safe to call from several threads at once.

        Raises:
            videosense_shared.backends.BackendUnavailableError: the model cannot be loaded.
            transcriber.backend.TranscriptionError: this audio cannot be transcribed.
        """
        ...
