"""The one narrow interface every captioning backend implements, and how backends fail.

A backend that cannot run at all (no weights offline, no endpoint configured) raises the
shared :class:`videosense_shared.backends.BackendUnavailableError`, like every stage's backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class CaptioningError(Exception):
    """Captioning cannot succeed for this chunk whatever we retry (bad request, model error,
    missing model, access denied): the stage fails with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientCaptioningError(Exception):
    """Throttling, a server error or a timeout outlasted the backend's own retries: the chunk
    is worth trying again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    """The largest image a backend accepts: longest side in pixels, and encoded size."""

    max_side: int
    max_bytes: int | None = None


class CaptionBackend(ABC):
    """Writes one caption per image. Implementations bound their own parallelism and keep CPU
    work off the event loop."""

    #: Short backend name recorded in ``CaptionsReady.backend`` ("local", "bedrock", ...).
    name: str

    @property
    @abstractmethod
    def model(self) -> str:
        """The model that writes the captions (id, endpoint or directory)."""

    @property
    @abstractmethod
    def limits(self) -> ImageLimits:
        """What images this backend accepts; larger ones are resized before :meth:`caption`."""

    @abstractmethod
    async def caption(self, images: Sequence[bytes]) -> list[str]:
        """Caption JPEG images, one caption per image, in order.

        Raises:
            CaptioningError: the backend refused for good (the stage fails).
            TransientCaptioningError: throttled or unavailable for now (try later).
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release what the backend holds (connections, model memory)."""
