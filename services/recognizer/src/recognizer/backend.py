"""The narrow interface every recognition backend implements, and what it returns."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from recognizer.features import Feature
from videosense_shared.bus import RetryableError
from videosense_shared.messages import Face, Label, TextDetection


@dataclass(frozen=True)
class Findings:
    """What a backend found in one image: boxes relative (0..1), confidences 0..100."""

    labels: tuple[Label, ...] = ()
    faces: tuple[Face, ...] = ()
    text: tuple[TextDetection, ...] = ()


class BackendUnavailable(Exception):  # noqa: N818 - reads as a state, like PoisonMessage
    """The backend cannot run a requested feature here (no model, no client, no binary).

    Retrying cannot help: the stage fails with ``reason``, which says what to configure.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecognitionFailed(Exception):  # noqa: N818
    """Recognising an image failed for good (refused request, undecodable image)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecognitionBackend(Protocol):
    """Recognises labels, faces and text in one keyframe image."""

    @property
    def name(self) -> str:
        """Backend name recorded in the document (``local``, ``rekognition``)."""
        ...

    async def check(self, features: Set[Feature]) -> None:
        """Make sure every feature in ``features`` can run, before any image is sent.

        Raises:
            BackendUnavailable: one of them cannot; the reason says which and what is missing.
        """
        ...

    async def recognise(self, image: bytes, features: Set[Feature]) -> Findings:
        """Run ``features`` on one JPEG image (CPU work off the event loop).

        Raises:
            RecognitionFailed: the image or the request was refused for good.
            videosense_shared.bus.RetryableError: transient trouble (throttling, 5xx).
        """
        ...


def decisive(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error of a task group that decides a chunk's fate.

    A definitive failure (the stage fails) wins over a transient one (the chunk is retried),
    which wins over anything else (a bug, retried and eventually dead-lettered).
    """
    flat: list[BaseException] = []
    pending: list[BaseException] = [errors]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            flat.append(error)
    for kind in (BackendUnavailable, RecognitionFailed, RetryableError):
        for error in flat:
            if isinstance(error, kind):
                return error
    return flat[0]
