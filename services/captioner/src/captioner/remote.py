"""What the remote backends (Bedrock, SageMaker, OpenAI-compatible) share: one call per image,
a bound on the calls in flight, and backoff on throttling and server errors."""

from __future__ import annotations

import asyncio
import random
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from captioner.backend import CaptionBackend, ImageLimits, TransientCaptioningError
from captioner.settings import DEFAULT_PROMPT, CaptionerSettings
from videosense_shared.bus.backoff import jittered_delay_s


@dataclass(frozen=True)
class RemoteOptions:
    """What every remote backend is built with, whichever API it calls.

    Attributes:
        prompt: the instruction sent with each image.
        max_tokens: most tokens per caption.
        max_side: images are downscaled to fit this many pixels first (an API may allow less).
        concurrency: calls in flight at once per worker, all chunks together.
        attempts: tries per image on throttling and server errors.
        retry_base_s: the first backoff delay (doubles on each retry).
    """

    prompt: str
    max_tokens: int
    max_side: int
    concurrency: int
    attempts: int
    retry_base_s: float

    @classmethod
    def from_settings(cls, settings: CaptionerSettings) -> Self:
        """The options the captioner's settings give (``DEFAULT_PROMPT`` when none is set)."""
        return cls(
            prompt=settings.prompt or DEFAULT_PROMPT,
            max_tokens=settings.max_tokens,
            max_side=settings.max_image_side,
            concurrency=settings.keyframe_concurrency,
            attempts=settings.request_attempts,
            retry_base_s=settings.retry_base_s,
        )


class RetryCall(Exception):  # noqa: N818 - a signal, not an error of the caller
    """Raised by :meth:`RemoteBackend._caption_one` for a failure worth another try
    (throttling, 5xx, timeout). ``retry_after_s`` is the server's hint, if it gave one."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RemoteBackend(CaptionBackend):
    """Captions image by image through a remote API.

    At most ``options.concurrency`` calls are in flight across every chunk this worker handles
    (the semaphore belongs to the backend, which the service shares between messages), so a
    worker never floods a rate-limited API. Each image gets ``options.attempts`` tries, with
    jittered exponential backoff from ``options.retry_base_s`` (or the server's Retry-After),
    never longer than ``_MAX_RETRY_AFTER_S`` between two tries. Subclasses send
    ``self._options.prompt`` and ``max_tokens`` with each image.
    """

    _MAX_RETRY_AFTER_S = 30.0

    def __init__(
        self,
        *,
        model: str,
        limits: ImageLimits,
        options: RemoteOptions,
        rng: random.Random | None = None,
    ) -> None:
        self._model = model
        self._limits = limits
        self._options = options
        self._semaphore = asyncio.Semaphore(options.concurrency)
        self._attempts = options.attempts
        self._retry_base_s = options.retry_base_s
        self._rng = rng or random.Random()

    @property
    def model(self) -> str:
        """The model id, endpoint or served model name."""
        return self._model

    @property
    def limits(self) -> ImageLimits:
        """The largest image the API accepts."""
        return self._limits

    async def caption(self, images: Sequence[bytes]) -> list[str]:
        """Caption every image, ``concurrency`` at a time; the first failure cancels the rest.

        Raises:
            CaptioningError: the API refused for good.
            TransientCaptioningError: still throttled or failing after every attempt.
        """
        tasks = [asyncio.ensure_future(self._bounded(image)) for image in images]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _bounded(self, image: bytes) -> str:
        async with self._semaphore:
            for attempt in range(1, self._attempts + 1):
                try:
                    return await self._caption_one(image)
                except RetryCall as retry:
                    if attempt == self._attempts:
                        raise TransientCaptioningError(
                            f"{retry.reason} (gave up after {attempt} attempts)"
                        ) from retry
                    await asyncio.sleep(self._delay_s(attempt, retry.retry_after_s))
        raise AssertionError("unreachable: the loop returns or raises")

    def _delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self._MAX_RETRY_AFTER_S)
        return jittered_delay_s(
            attempt, base_s=self._retry_base_s, cap_s=self._MAX_RETRY_AFTER_S, rng=self._rng
        )

    @abstractmethod
    async def _caption_one(self, image: bytes) -> str:
        """Caption one JPEG with one API call.

        Raises:
            RetryCall: a transient failure (throttling, 5xx, timeout).
            CaptioningError: a failure retrying cannot fix.
        """
