"""The video document (schema v1): the JSON users and tools read.

Field names are a stable contract (see docs/architecture.md). DynamoDB holds the document as an item
collection (see :mod:`videosense_shared.store`); :func:`~videosense_shared.store.DocumentStore.read`
assembles it into a :class:`VideoDocument`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from videosense_shared.messages import (
    Face,
    ImageRef,
    Label,
    MediaFacts,
    Model,
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
    "Label",
    "StageInfo",
    "TextDetection",
    "Transcript",
    "VideoDocument",
    "final_status",
]

DOCUMENT_SCHEMA_VERSION: Literal[1] = 1


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
    """Status and timings of one stage."""

    status: StageStatus
    backend: str | None = None
    model: str | None = None
    features: tuple[str, ...] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class VideoDocument(Model):
    """The whole video document, schema v1."""

    video_id: str
    schema_version: Literal[1] = DOCUMENT_SCHEMA_VERSION
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
