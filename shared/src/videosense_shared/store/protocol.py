"""What the services need from the document store: :class:`DocumentStore`, and the types it
speaks. Two implementations keep the same semantics: DynamoDB
(:class:`~videosense_shared.store.dynamo.DynamoDocumentStore`) and memory
(:class:`~videosense_shared.store.memory.InMemoryDocumentStore`, for fast tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from videosense_shared.document import StageInfo, VideoDocument
from videosense_shared.messages import (
    Keyframe,
    KeyframeCaption,
    KeyframeRecognition,
    MediaFacts,
    Redaction,
    Scene,
    SourceRef,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
)


class DocumentNotFoundError(LookupError):
    """No document exists for this video id."""


@dataclass(frozen=True)
class Header:
    """A video's header: everything about the video but its per-scene/keyframe/segment items.

    ``due_at`` is when the deadline sweep looks at the video next; ``None`` once its completion
    is published (the video left the "due" index).
    """

    video_id: str
    trace_id: str
    status: VideoStatus
    error: str | None
    source: SourceRef
    media: MediaFacts | None
    created_at: datetime
    completed_at: datetime | None
    stages: dict[Stage, StageInfo]
    chunks_done: dict[Stage, int]
    chunk_count: dict[Stage, int]
    completion_published: bool
    completion_lease_until: datetime | None
    ingest_published: bool
    due_at: datetime | None = None
    ingest_lease_until: datetime | None = None

    @property
    def stage_statuses(self) -> dict[Stage, StageStatus]:
        """Status of each requested stage."""
        return {stage: info.status for stage, info in self.stages.items()}


class DocumentStore(Protocol):
    """Reads and writes video documents.

    Every write is idempotent (same key, same content) or conditional (one winner among
    concurrent writers), so duplicate messages, any delivery order and several workers at once
    are harmless.
    """

    # -- header ------------------------------------------------------------------------------

    async def create(
        self,
        *,
        video_id: str,
        trace_id: str,
        source: SourceRef,
        media: MediaFacts | None,
        stages: Sequence[Stage],
        error: str | None = None,
    ) -> bool:
        """Create the header; ``False`` when this video already has one (a duplicate upload
        notification), in which case nothing is changed.

        A non-``None`` ``error`` creates the document already ``failed`` (a rejected video).
        The header enters the "due" index at once, due now: the deadline sweep sets its real
        deadline on first sight.
        """
        ...

    async def header(self, video_id: str) -> Header:
        """Read the header (strongly consistent).

        Raises:
            DocumentNotFoundError: no such video.
        """
        ...

    async def finalize(self, video_id: str) -> Header | None:
        """Set the final status if every requested stage is terminal.

        Returns the header once its status is final (whether this call or an earlier one set
        it), or ``None`` while stages are still running.

        Raises:
            DocumentNotFoundError: no such video.
        """
        ...

    async def due_videos(self, until: datetime, limit: int) -> list[str]:
        """Ids of videos due for a deadline check at or before ``until``, earliest first.

        Eventually consistent: a video may show up shortly after it left the index; read its
        header before acting.
        """
        ...

    async def reschedule(self, video_id: str, at: datetime) -> bool:
        """Set when the deadline sweep looks at the video next; ``False`` if it left the
        "due" index (its completion is published) or does not exist."""
        ...

    # -- stage ledger ------------------------------------------------------------------------

    async def mark_stage_queued(self, video_id: str, stage: Stage, *, at: datetime) -> bool:
        """Record that the video was handed to the stage at ``at``: ``pending`` -> ``running``
        with ``queued_at``; ``False`` if the stage was not pending."""
        ...

    async def record_stage_start(self, video_id: str, stage: Stage, at: datetime) -> bool:
        """Record a worker's start of the stage; the earliest start reported wins, whatever
        order results arrive in. ``False`` when an earlier start is recorded or the stage is
        terminal (or not requested)."""
        ...

    async def finish_stage(
        self,
        video_id: str,
        stage: Stage,
        status: StageStatus,
        *,
        started_at: datetime | None,
        finished_at: datetime,
        backend: str | None,
        error: str | None = None,
        model: str | None = None,
        features: Sequence[str] | None = None,
    ) -> bool:
        """Set a stage's terminal status once; ``False`` if it was already terminal or the
        stage (or video) does not exist. ``started_at`` is recorded as by
        :meth:`record_stage_start`.

        Raises:
            ValueError: ``status`` is not terminal.
        """
        ...

    async def record_chunk(
        self, video_id: str, stage: Stage, chunk_index: int, chunk_count: int
    ) -> bool:
        """Count one chunk of a stage's output exactly once; ``False`` for a duplicate.

        Raises:
            DocumentNotFoundError: no such video.
        """
        ...

    # -- completion outbox -------------------------------------------------------------------

    async def claim_completion(self, video_id: str, lease: timedelta) -> bool:
        """Claim the right to publish the completion event for ``lease``.

        ``False`` when it was already published or another worker holds an unexpired claim.
        A worker that crashes after claiming leaves a lease that expires, so the event is never
        lost; a live worker's claim keeps concurrent workers from publishing twice.
        """
        ...

    async def mark_published(self, video_id: str) -> None:
        """Record that the completion event went out; the video leaves the "due" index."""
        ...

    async def claim_ingest(self, video_id: str, lease: timedelta) -> bool:
        """Claim the right to publish ``VideoIngested`` for ``lease``.

        ``False`` when it was already published or another delivery holds an unexpired claim:
        of two notifications racing on one upload only one starts the stages. A delivery that
        crashes after claiming leaves a lease that expires before its message comes back, so
        its redelivery can claim again and the video is never stuck.
        """
        ...

    async def mark_ingest_published(self, video_id: str) -> None:
        """Record that ``VideoIngested`` went out, so a duplicate notification starts nothing."""
        ...

    # -- collection items --------------------------------------------------------------------

    async def put_scenes(self, video_id: str, scenes: Iterable[Scene]) -> None:
        """Write scene items (idempotent: same scene, same item)."""
        ...

    async def put_keyframes(self, video_id: str, keyframes: Iterable[Keyframe]) -> None:
        """Write keyframe items (idempotent). Only the frame stage's own attribute is written,
        so results other stages already stored on the item survive."""
        ...

    async def put_captions(self, video_id: str, captions: Iterable[KeyframeCaption]) -> None:
        """Store each keyframe's caption on its item (idempotent, in any order with the frame
        stage's own write)."""
        ...

    async def put_recognition(self, video_id: str, results: Iterable[KeyframeRecognition]) -> None:
        """Store each keyframe's labels, faces and text on its item (idempotent)."""
        ...

    async def put_transcript(self, video_id: str, transcript: Transcript) -> None:
        """Store the transcript: its language plus one item per segment (idempotent)."""
        ...

    async def put_redaction(self, video_id: str, redaction: Redaction) -> None:
        """Store the redacted copy's reference and counts (idempotent)."""
        ...

    # -- reading -----------------------------------------------------------------------------

    async def read(self, video_id: str) -> VideoDocument:
        """Assemble the whole document (schema v3).

        Raises:
            DocumentNotFoundError: no such video.
        """
        ...
