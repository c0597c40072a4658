"""Wiring of the transcriber: settings, clients, backend, handler, queue."""

from __future__ import annotations

from transcriber.backend import (
    BackendUnavailableError,
    TranscriptionBackend,
    TranscriptionRequest,
    TranscriptionResult,
)
from transcriber.handler import Transcriber
from transcriber.local import LocalBackend
from transcriber.settings import TranscriberSettings
from transcriber.sphinx import PocketSphinxRecognizer
from transcriber.whisper import WhisperRecognizer
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import TRANSCRIBER_SERVICE


class UnavailableBackend:
    """A configured backend that cannot work here: every video fails the stage with why.

    Never a silent fallback to another backend: the document says what was asked for and why
    it could not run.
    """

    def __init__(self, name: str, reason: str) -> None:
        self._name = name
        self._reason = reason

    @property
    def name(self) -> str:
        """The configured backend's name."""
        return self._name

    @property
    def reason(self) -> str:
        """Why the backend cannot work."""
        return self._reason

    async def transcribe(self, request: TranscriptionRequest) -> TranscriptionResult:
        """Raises:
        BackendUnavailableError: always, with the reason given at construction.
        """
        raise BackendUnavailableError(self._reason)


def make_backend(settings: TranscriberSettings, aws: AwsClients) -> TranscriptionBackend:
    """Build the configured backend (nothing is loaded yet: models load on first use)."""
    try:
        match settings.backend:
            case "pocketsphinx":
                return LocalBackend(
                    aws.s3,
                    PocketSphinxRecognizer(
                        vad_mode=settings.pocketsphinx_vad_mode, language=settings.language
                    ),
                )
            case "whisper":
                return LocalBackend(
                    aws.s3,
                    WhisperRecognizer(
                        settings.whisper_model,
                        language=settings.language,
                        compute_type=settings.whisper_compute_type,
                        cpu_threads=settings.whisper_cpu_threads,
                        beam_size=settings.whisper_beam_size,
                        vad=settings.whisper_vad,
                        temperature_fallback=settings.whisper_temperature_fallback,
                        download_root=settings.whisper_download_root,
                        window_s=settings.window_s,
                        local_files_only=settings.whisper_local_files_only,
                    ),
                )
            case "transcribe":
                from transcriber.amazon import AmazonTranscribeBackend, check_settings

                check_settings(settings)
                return AmazonTranscribeBackend(aws.transcribe, aws.s3, settings)
    except BackendUnavailableError as err:
        return UnavailableBackend(settings.backend, err.reason)


def service(settings: TranscriberSettings | None = None) -> ServiceSpec:
    """The transcriber's service spec (settings from the environment unless given)."""
    cfg = settings or TranscriberSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        backend = make_backend(cfg, aws)
        return Transcriber(aws.s3, cfg.common.bucket, publisher, backend).handle

    return ServiceSpec.of(TRANSCRIBER_SERVICE, settings=cfg, make_handler=make_handler)
