"""Choosing and opening the configured backend (one per worker, shared by messages).

:func:`make_backend` is what the service wires in; :func:`open_backend` builds the backend
``VIDEOSENSE_TRANSCRIBER_BACKEND`` names and loads its model, or says why it cannot (see
:mod:`videosense_shared.backends`).
"""

from __future__ import annotations

import asyncio

from transcriber.backend import TranscriptionBackend
from transcriber.local import LocalBackend
from transcriber.settings import TranscriberSettings
from transcriber.sphinx import PocketSphinxSpeechModel
from transcriber.whisper import WhisperSpeechModel
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader

#: How long a backend that could not open is remembered before the next video tries again:
#: a backlog does not retry a slow, doomed model download for every video, and a hub that was
#: briefly unreachable needs no restart.
RETRY_OPEN_AFTER_S = 300.0


async def open_backend(settings: TranscriberSettings, aws: AwsClients) -> TranscriptionBackend:
    """Build the backend ``settings.backend`` names and load its model.

    Raises:
        BackendUnavailableError: the settings are ones the backend cannot honour (a language
            it has no model for), or its model cannot be loaded.
    """
    match settings.backend:
        case "pocketsphinx":
            sphinx = PocketSphinxSpeechModel(
                vad_mode=settings.pocketsphinx_vad_mode, language=settings.language
            )
            return LocalBackend(aws.s3, sphinx)
        case "whisper":
            whisper = WhisperSpeechModel(
                settings.whisper_model,
                language=settings.language,
                compute_type=settings.whisper_compute_type,
                cpu_threads=settings.whisper_cpu_threads,
                beam_size=settings.whisper_beam_size,
                vad=settings.whisper_vad,
                temperature_fallback=settings.whisper_temperature_fallback,
                loop_ratio=settings.whisper_loop_ratio,
                download_root=settings.whisper_download_root,
                window_s=settings.window_s,
                local_files_only=settings.whisper_local_files_only,
            )
            # Loading reads (or downloads) the weights: seconds to minutes, off the event loop.
            await asyncio.to_thread(whisper.load)
            return LocalBackend(aws.s3, whisper)
        case "transcribe":
            from transcriber.amazon import AmazonTranscribeBackend

            return AmazonTranscribeBackend(aws.transcribe, aws.s3, settings)


def make_backend(
    settings: TranscriberSettings, aws: AwsClients
) -> BackendLoader[TranscriptionBackend]:
    """The configured backend, opened (its model loaded) on the first video."""

    async def opener() -> TranscriptionBackend:
        return await open_backend(settings, aws)

    return BackendLoader(settings.backend, opener, retry_after_s=RETRY_OPEN_AFTER_S)
