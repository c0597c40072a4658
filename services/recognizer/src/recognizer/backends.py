"""Choosing and opening the configured backend (one per worker, shared by messages).

:func:`make_backend` is what the service wires in; :func:`open_backend` builds the backend
``VIDEOSENSE_RECOGNIZER_BACKEND`` names and prepares the features the settings request, or
says why it cannot (see :mod:`videosense_shared.backends`).
"""

from __future__ import annotations

from recognizer.backend import RecognitionBackend
from recognizer.local_backend import LocalBackend
from recognizer.rekognition import RekognitionBackend
from recognizer.settings import RecognizerSettings
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader

#: How long a backend that could not open is remembered before the next message tries again:
#: a model file or a face collection created after the service started is picked up without a
#: restart, and a backlog of chunks does not repeat every check meanwhile.
RETRY_OPEN_AFTER_S = 300.0


async def open_backend(settings: RecognizerSettings, aws: AwsClients) -> RecognitionBackend:
    """Build the backend ``settings.backend`` names and prepare the requested features.

    Raises:
        BackendUnavailableError: a requested feature cannot run with this backend here.
        videosense_shared.bus.RetryableError: a check was throttled or failed transiently.
    """
    backend: RecognitionBackend
    if settings.backend == "rekognition":
        # The client is built on first use; the backend's gate bounds the calls, botocore
        # retries throttling.
        backend = RekognitionBackend(aws.rekognition, settings)
    else:
        backend = LocalBackend(settings)
    await backend.prepare(frozenset(settings.requested_features()))
    return backend


def make_backend(
    settings: RecognizerSettings, aws: AwsClients
) -> BackendLoader[RecognitionBackend]:
    """The configured backend, opened (and its features prepared) on the first chunk."""

    async def opener() -> RecognitionBackend:
        return await open_backend(settings, aws)

    return BackendLoader(settings.backend, opener, retry_after_s=RETRY_OPEN_AFTER_S)
