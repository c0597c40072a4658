"""Choosing and opening the configured backend (one per worker, shared by messages)."""

from __future__ import annotations

import asyncio

from redactor.backend import FaceBackend
from redactor.settings import RedactorSettings
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader

#: How long a backend that could not open is remembered before the next video tries again.
RETRY_OPEN_AFTER_S = 300.0


async def open_backend(settings: RedactorSettings, aws: AwsClients) -> FaceBackend:
    """Build the backend ``settings.backend`` names.

    Raises:
        BackendUnavailableError: its models do not load, or its settings are incomplete.
    """
    match settings.backend:
        case "local":
            from redactor.local import LocalBackend

            # Loading dlib's detector takes a moment: off the event loop.
            return await asyncio.to_thread(LocalBackend, settings)
        case "rekognition":
            from redactor.rekognition import RekognitionVideoBackend

            return RekognitionVideoBackend(aws.rekognition, settings)


def make_backend(settings: RedactorSettings, aws: AwsClients) -> BackendLoader[FaceBackend]:
    """The configured backend, opened on the first video."""

    async def opener() -> FaceBackend:
        return await open_backend(settings, aws)

    return BackendLoader(settings.backend, opener, retry_after_s=RETRY_OPEN_AFTER_S)
