"""The video document (schema v3): the JSON users and tools read.

Field names are a stable contract (see docs/architecture.md): fields are only ever added, as
optional ones. v2 added ``redaction``; v3 added the face tracks the redaction saw
(``redaction.face_tracks``: each face's on-screen time and name). A v1 document is a valid v3
document without ``redaction``, a v2 one without ``face_tracks``, so readers accept every
version. DynamoDB holds the document as an item collection (see
:mod:`videosense_shared.store`); ``DocumentStore.read`` assembles it into a
:class:`VideoDocument`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import Field

from videosense_shared.messages import (
    Face,
    FaceTrack,
    ImageRef,
    Label,
    MediaFacts,
    Model,
    Redaction,
    Scene,
    SourceRef,
    Stage,
    StageStatus,
    TextDetection,
    Transcript,
    VideoStatus,
)

__all__ = [
    "DocumentKeyframe",
    "Face",
    "FaceTrack",
    "Label",
    "Redaction",
    "StageInfo",
    "TextDetection",
    "Transcript",
    "VideoDocument",
    "decide_final_status",
    "final_status",
]

DOCUMENT_SCHEMA_VERSION: Literal[3] = 3


class DocumentKeyframe(Model):
    """A keyframe with everything the analysis stages found in it."""

    id: str
    frame: int
    t_s: float
    scene_index: int
    image: ImageRef
    caption: str | None = None
    labels: tuple[Label, ...] = ()
    faces: tuple[Face, ...] = ()
    text: tuple[TextDetection, ...] = ()


class StageInfo(Model):
    """Status and timings of one stage.

    ``queued_at`` is when the video was handed to the stage (its ``VideoIngested``);
    ``started_at`` is when the stage's worker started the work (the earliest start its results
    report), so ``finished_at - started_at`` is the work itself, not the wait in the queue.
    A stage that ended without a result (``StageFailed``, a time-out) has no ``started_at``.
    """

    status: StageStatus
    backend: str | None = None
    model: str | None = None
    features: tuple[str, ...] | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class VideoDocument(Model):
    """The whole video document, schema v3 (v1 documents, written before ``redaction``
    existed, and v2 ones, before ``redaction.face_tracks``, still validate)."""

    video_id: str
    schema_version: Literal[1, 2, 3] = DOCUMENT_SCHEMA_VERSION
    status: VideoStatus
    error: str | None = None
    source: SourceRef
    media: MediaFacts | None = None
    created_at: datetime
    completed_at: datetime | None = None
    stages: dict[Stage, StageInfo] = Field(default_factory=dict)
    scenes: tuple[Scene, ...] = ()
    keyframes: tuple[DocumentKeyframe, ...] = ()
    transcript: Transcript | None = None
    # v2: the redacted copy (the redaction stage); v3: with its face tracks.
    redaction: Redaction | None = None


def final_status(stages: dict[Stage, StageStatus]) -> VideoStatus:
    """The video's final status once every stage is terminal.

    ``complete`` when every stage completed or was skipped, ``failed`` when none completed,
    ``partial`` otherwise.
    """
    statuses = list(stages.values())
    if all(s in (StageStatus.COMPLETE, StageStatus.SKIPPED) for s in statuses):
        return VideoStatus.COMPLETE
    if not any(s == StageStatus.COMPLETE for s in statuses):
        return VideoStatus.FAILED
    return VideoStatus.PARTIAL


def decide_final_status(stages: Mapping[Stage, StageStatus]) -> VideoStatus | None:
    """The video's final status, or ``None`` while a requested stage is not terminal.

    The rule of :func:`final_status` once every stage is terminal. Pure: finalising a document
    is this decision plus one conditional write.
    """
    if not all(s.terminal for s in stages.values()):
        return None
    return final_status(dict(stages))
