"""Choosing, opening and keeping the configured backend (one per worker, shared by messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from captioner.backend import BackendUnavailableError, CaptionBackend
from captioner.bedrock import BedrockBackend
from captioner.openai_compat import OpenAICompatibleBackend
from captioner.sagemaker import SageMakerBackend
from captioner.settings import DEFAULT_PROMPT, CaptionerSettings

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


async def open_backend(settings: CaptionerSettings, clients: RuntimeClients) -> CaptionBackend:
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
    prompt = settings.prompt or DEFAULT_PROMPT
    # botocore's own retries are off (one attempt): the backend retries throttling itself,
    # with its concurrency bound in mind.
    timeout = settings.request_timeout_s
    match settings.backend:
        case "local":
            # Imported here: torch and transformers take seconds to import.
            from captioner.local_model import LocalBackend

            return await LocalBackend.open(settings)
        case "bedrock":
            return BedrockBackend(
                await clients.bedrock_runtime(max_attempts=1, read_timeout_s=timeout),
                model=model,
                prompt=prompt,
                max_tokens=settings.max_tokens,
                max_side=settings.max_image_side,
                concurrency=settings.keyframe_concurrency,
                attempts=settings.request_attempts,
                retry_base_s=settings.retry_base_s,
            )
        case "sagemaker":
            return SageMakerBackend(
                await clients.sagemaker_runtime(max_attempts=1, read_timeout_s=timeout),
                endpoint=model,
                prompt=prompt,
                max_tokens=settings.max_tokens,
                max_side=settings.max_image_side,
                concurrency=settings.keyframe_concurrency,
                attempts=settings.request_attempts,
                retry_base_s=settings.retry_base_s,
            )
        case "openai":
            key = settings.api_key.get_secret_value() if settings.api_key else None
            return OpenAICompatibleBackend.connect(
                settings.base_url,
                api_key=key,
                timeout_s=settings.request_timeout_s,
                model=model,
                prompt=prompt,
                max_tokens=settings.max_tokens,
                max_side=settings.max_image_side,
                concurrency=settings.keyframe_concurrency,
                attempts=settings.request_attempts,
                retry_base_s=settings.retry_base_s,
            )


class BackendLoader:
    """Opens the backend once, on first use, and remembers a failure to open it.

    A backend that cannot load will not load on the next message either (the weights did not
    appear, the endpoint was not configured): every later chunk fails at once with the same
    reason instead of paying for another attempt. Restart the service after fixing it.
    """

    def __init__(self, opener: Callable[[], Awaitable[CaptionBackend]]) -> None:
        self._opener = opener
        self._lock = asyncio.Lock()
        self._backend: CaptionBackend | None = None
        self._failure: BackendUnavailableError | None = None

    async def get(self) -> CaptionBackend:
        """The open backend.

        Raises:
            BackendUnavailableError: it cannot be opened (now or at an earlier attempt).
        """
        async with self._lock:
            if self._backend is not None:
                return self._backend
            if self._failure is not None:
                raise self._failure
            try:
                self._backend = await self._opener()
            except BackendUnavailableError as err:
                self._failure = err
                raise
            return self._backend

    async def aclose(self) -> None:
        """Close the backend if it was opened."""
        if self._backend is not None:
            await self._backend.aclose()
            self._backend = None
