"""The backend for on-CPU recognisers: download the video, extract its audio, recognise.

The announced version of the video (never whatever its key holds now) is streamed from S3 into
a temporary directory in parts (never whole in memory), its audio is written next to it as
16 kHz mono WAV, and the directory is removed however the work ends. Decoding and recognition
run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from transcriber.audio import (
    AudioExtractionError,
    ExtractedAudio,
    NoAudioTrackError,
    extract_audio,
)
from transcriber.backend import (
    NoAudioError,
    TranscriptionError,
    TranscriptionRequest,
    TranscriptionResult,
)
from transcriber.speech_model import SpeechModel
from videosense_shared.messages import Transcript
from videosense_shared.objects import SourceUnavailableError, download_to_file

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


class LocalBackend:
    """Runs a :class:`SpeechModel` on the audio of the S3 object."""

    def __init__(self, s3: S3Client, recognizer: SpeechModel) -> None:
        self._s3 = s3
        self._recognizer = recognizer

    @property
    def name(self) -> str:
        """The recogniser's name."""
        return self._recognizer.name

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Download, extract the audio, recognise it.

        Raises:
            NoAudioError: the file has no audio stream.
            TranscriptionError: the uploaded version is gone or overwritten, or its audio
                cannot be decoded.
            BackendUnavailableError: the recogniser's model cannot be loaded.
            botocore.exceptions.ClientError: a transient S3 failure.
        """
        with tempfile.TemporaryDirectory(prefix="videosense-audio-") as tmp:
            video = Path(tmp) / "video"
            try:
                await download_to_file(self._s3, request.source, video)
            except SourceUnavailableError as err:
                raise TranscriptionError(err.reason) from err
            transcript = await asyncio.to_thread(self._run, video, Path(tmp) / "audio.wav")
        return TranscriptionResult(transcript=transcript, model=self._recognizer.model)

    def _run(self, video: Path, wav: Path) -> Transcript:
        try:
            audio: ExtractedAudio = extract_audio(video, wav)
        except NoAudioTrackError as err:
            raise NoAudioError(str(err)) from err
        except AudioExtractionError as err:
            raise TranscriptionError(str(err)) from err
        # The compressed video is no longer needed: free the disk before the long part.
        video.unlink(missing_ok=True)
        return self._recognizer.recognize(audio)
