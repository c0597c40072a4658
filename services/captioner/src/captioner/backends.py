"""Choosing and opening the configured backend (one per worker, shared by messages).

:func:`make_backend` is what the service wires in; :func:`open_backend` builds the backend
``VIDEOSENSE_CAPTIONER_BACKEND`` names, or says why it cannot (see
:mod:`videosense_shared.backends`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from captioner.backend import CaptionBackend
from captioner.bedrock import BedrockBackend
from captioner.openai_compat import OpenAICompatibleBackend
from captioner.remote import RemoteOptions
from captioner.sagemaker import SageMakerBackend
from captioner.settings import CaptionerSettings
from videosense_shared.backends import BackendLoader, BackendUnavailableError

if TYPE_CHECKING:
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient
    from types_aiobotocore_sagemaker_runtime import SageMakerRuntimeClient


class RuntimeClients(Protocol):
    """Where the remote backends get their (injected) AWS runtime clients
    (:class:`videosense_shared.aws.AwsClients` in production)."""

    async def bedrock_runtime(
        self, *, max_attempts: int = ..., read_timeout_s: float = ...
    ) -> BedrockRuntimeClient:
        """The Bedrock runtime client."""
        ...

    async def sagemaker_runtime(
        self, *, max_attempts: int = ..., read_timeout_s: float = ...
    ) -> SageMakerRuntimeClient:
        """The SageMaker runtime client."""
        ...


async def open_backend(settings: CaptionerSettings, aws: RuntimeClients) -> CaptionBackend:
    """Open the backend ``settings.backend`` names.

    Raises:
        BackendUnavailableError: it is not configured completely or cannot load.
    """
    model = settings.resolved_model()
    if model is None:
        what = {"sagemaker": "the endpoint name", "openai": "the served model name"}
        raise BackendUnavailableError(
            f"the {settings.backend} backend needs VIDEOSENSE_CAPTIONER_MODEL "
            f"({what.get(settings.backend, 'a model')})"
        )
    options = RemoteOptions.from_settings(settings)
    # botocore's own retries are off (one attempt): the backend retries throttling itself,
    # with its concurrency bound in mind.
    timeout = settings.request_timeout_s
    match settings.backend:
        case "local":
            # Imported here: torch and transformers take seconds to import.
            from captioner.local_model import LocalBackend

            return await LocalBackend.open(settings)
        case "bedrock":
            client = await aws.bedrock_runtime(max_attempts=1, read_timeout_s=timeout)
            return BedrockBackend(client, model=model, options=options)
        case "sagemaker":
            runtime = await aws.sagemaker_runtime(max_attempts=1, read_timeout_s=timeout)
            return SageMakerBackend(runtime, endpoint=model, options=options)
        case "openai":
            key = settings.api_key.get_secret_value() if settings.api_key else None
            return OpenAICompatibleBackend.connect(
                settings.base_url, api_key=key, timeout_s=timeout, model=model, options=options
            )


def make_backend(settings: CaptionerSettings, aws: RuntimeClients) -> BackendLoader[CaptionBackend]:
    """The configured backend, opened on the first chunk.

    A backend that cannot open will not open on the next chunk either (the weights did not
    appear, the endpoint was not configured, and loading a local model may take minutes): the
    failure is remembered until the service restarts, and every later chunk fails at once with
    the same reason.
    """

    async def opener() -> CaptionBackend:
        return await open_backend(settings, aws)

    return BackendLoader(settings.backend, opener, retry_after_s=None)
