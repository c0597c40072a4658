"""The narrow interface every recognition backend implements, what it returns, and how it fails.

A backend that cannot run a requested feature here (no model, no client, no binary) raises the
shared :class:`videosense_shared.backends.BackendUnavailableError` when it is prepared (see
:mod:`recognizer.backends`), like every stage's backend.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from recognizer.features import Feature
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import RetryableError
from videosense_shared.messages import Face, Label, TextDetection


@dataclass(frozen=True)
class ImageRecognition:
    """What a backend recognized in one image: boxes relative (0..1), confidences 0..100.

    The handler adds the keyframe's identity to make the contract's ``KeyframeRecognition``.
    """

    labels: tuple[Label, ...] = ()
    faces: tuple[Face, ...] = ()
    text: tuple[TextDetection, ...] = ()


class RecognitionError(Exception):
    """Recognizing an image failed for good (refused request, undecodable image)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecognitionBackend(Protocol):
    """Recognizes labels, faces and text in one keyframe image."""

    @property
    def name(self) -> str:
        """Backend name recorded in the document (``local``, ``rekognition``)."""
        ...

    async def prepare(self, features: Set[Feature]) -> None:
        """Load what ``features`` need and make sure each can run, before any image is sent.

        Raises:
            BackendUnavailableError: one of them cannot; the reason says which and what is
                missing.
            videosense_shared.bus.RetryableError: a check was throttled or failed transiently.
        """
        ...

    async def recognize(self, image: bytes, features: Set[Feature]) -> ImageRecognition:
        """Run ``features`` on one JPEG image (CPU work off the event loop).

        Raises:
            RecognitionError: the image or the request was refused for good.
            BackendUnavailableError: a feature cannot run after all (credentials gone, a model
                whose output does not match its names).
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
    for kind in (BackendUnavailableError, RecognitionError, RetryableError):
        for error in flat:
            if isinstance(error, kind):
                return error
    return flat[0]
