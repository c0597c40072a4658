"""The one narrow interface of the redactor's face backends, and how they fail.

A backend looks at the downloaded video (and, for Rekognition, at its S3 object), publishes
every frame's boxes to a :class:`~redactor.feed.BoxSink` as soon as they are final (the render
runs meanwhile and draws them: :mod:`redactor.pipeline`) and returns :class:`Findings`: the
shots and frame times of the video and the face (and text) tracks the policy hides. How tracks
become boxes on every frame and how the copy is written is the same for every backend
(:mod:`redactor.tracking`, :mod:`redactor.render`).

- :class:`RedactionError`: this video cannot be redacted (not decodable, a job failed): the
  stage *fails* with the readable reason;
- :class:`videosense_shared.backends.BackendUnavailableError`: the backend cannot run here at all
  (models missing, no gallery for a policy that names people, no Rekognition settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from redactor.feed import BoxSink
from redactor.policy import Policy
from redactor.scan import Scan
from redactor.tracking import Track
from videosense_shared.messages import SourceRef


class RedactionError(Exception):
    """The video cannot be redacted; ``reason`` is readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RedactionRequest:
    """One video to look at: its S3 object, the local copy, whose faces to hide."""

    video_id: str
    source: SourceRef
    path: Path
    policy: Policy
    redact_text: bool = False


@dataclass
class Findings:
    """The video's shots and frame times (``scan``), the tracks to hide, and every face track
    seen (``seen``).

    ``extend_frames`` is how far tracks are carried beyond their first and last detection: about
    one sampling interval of the backend (its own for Rekognition). ``names_error`` says why the
    tracks were left unnamed when the configured gallery or collection could not be used.
    """

    scan: Scan
    faces: list[Track]
    extend_frames: int
    texts: list[Track] = field(default_factory=list)
    extend_before: int = 0  # before a track's first detection (0: extend_frames)
    faces_seen: int = 0  # every face track found, hidden or not
    # Every face track found, hidden or not, named when a gallery or collection knew the face:
    # what the document records (:mod:`redactor.face_tracks`).
    seen: list[Track] = field(default_factory=list)
    # Why ``seen`` is unnamed although a gallery or collection is configured (under ``all``
    # naming is not needed to hide, so the redaction goes on; the document says why).
    names_error: str | None = None


class FaceBackend(Protocol):
    """Finds the faces to hide in a video."""

    @property
    def name(self) -> str:
        """Backend name recorded in the document (``local``, ``rekognition``)."""
        ...

    async def find(self, request: RedactionRequest, sink: BoxSink) -> Findings:
        """The tracks of the faces the request's policy hides (and text, when asked); every
        frame's boxes published to ``sink`` in order, each as soon as it is final (all at
        once at the end for a backend that learns them at once).

        Raises:
            redactor.feed.ReaderStoppedError: the render failed.
            RedactionError: the video cannot be decoded, or a job failed on it.
            videosense_shared.backends.BackendUnavailableError: the backend cannot run here.
            botocore.exceptions.ClientError: a transient AWS failure (retried).
        """
        ...
