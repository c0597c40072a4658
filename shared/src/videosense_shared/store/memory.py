"""The document store in memory, with the DynamoDB store's semantics: conditional writes with
one winner, chunks counted once, the completion lease, the "due" index.

For fast tests of everything built on the store, and for a single-process pipeline. Every call
yields to the event loop before it acts, and multi-step calls between their steps, like the
round trips of the DynamoDB store, so concurrent callers interleave the way they do against a
real table.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from videosense_shared.document import (
    DocumentKeyframe,
    StageInfo,
    VideoDocument,
    decide_final_status,
)
from videosense_shared.messages import (
    Keyframe,
    KeyframeCaption,
    KeyframeRecognition,
    MediaFacts,
    Redaction,
    Scene,
    Segment,
    SourceRef,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
    utc_now,
)
from videosense_shared.store.codec import assemble_transcript
from videosense_shared.store.keys import segment_key
from videosense_shared.store.protocol import DocumentNotFoundError, DocumentStore, Header


@dataclass
class _Keyframe:
    data: Keyframe | None = None
    results: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Video:
    header: Header | None = None  # None: results arrived for a video with no header
    chunks: set[tuple[Stage, int]] = field(default_factory=set)
    scenes: dict[int, Scene] = field(default_factory=dict)
    keyframes: dict[int, _Keyframe] = field(default_factory=dict)
    language: str | None = None
    has_transcript: bool = False
    segments: dict[str, Segment] = field(default_factory=dict)
    redaction: Redaction | None = None


def _hop() -> Any:
    # One network round trip's worth of concurrency: let other tasks run.
    return asyncio.sleep(0)


class InMemoryDocumentStore:
    """:class:`~videosense_shared.store.DocumentStore` in a dict, same semantics as DynamoDB."""

    def __init__(self) -> None:
        self._videos: dict[str, _Video] = {}

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
        """See :meth:`DocumentStore.create <videosense_shared.store.DocumentStore.create>`."""
        await _hop()
        video = self._videos.setdefault(video_id, _Video())
        if video.header is not None:
            return False
        now = utc_now()
        video.header = Header(
            video_id=video_id,
            trace_id=trace_id,
            status=VideoStatus.FAILED if error else VideoStatus.PROCESSING,
            error=error,
            source=source,
            media=media,
            created_at=now,
            completed_at=now if error is not None else None,
            stages={stage: StageInfo(status=StageStatus.PENDING) for stage in stages},
            chunks_done={stage: 0 for stage in stages},
            chunk_count={},
            completion_published=False,
            completion_lease_until=None,
            ingest_published=False,
            due_at=now,
        )
        return True

    async def header(self, video_id: str) -> Header:
        """Read the header.

        Raises:
            DocumentNotFoundError: no such video.
        """
        await _hop()
        return copy.deepcopy(self._header(video_id))

    async def finalize(self, video_id: str) -> Header | None:
        """See :meth:`DocumentStore.finalize <videosense_shared.store.DocumentStore.finalize>`.

        Raises:
            DocumentNotFoundError: no such video.
        """
        header = await self.header(video_id)
        if header.status != VideoStatus.PROCESSING:
            return header
        status = decide_final_status(header.stage_statuses)
        if status is None:
            return None
        await _hop()
        if self._header(video_id).status == VideoStatus.PROCESSING:
            self._update(video_id, status=status, completed_at=utc_now())
        return await self.header(video_id)

    async def due_videos(self, until: datetime, limit: int) -> list[str]:
        """See :meth:`DocumentStore.due_videos
        <videosense_shared.store.DocumentStore.due_videos>`."""
        await _hop()
        due = [
            (video.header.due_at, video_id)
            for video_id, video in self._videos.items()
            if video.header is not None
            and video.header.due_at is not None
            and video.header.due_at <= until
        ]
        return [video_id for _, video_id in sorted(due)[:limit]]

    async def reschedule(self, video_id: str, at: datetime) -> bool:
        """See :meth:`DocumentStore.reschedule
        <videosense_shared.store.DocumentStore.reschedule>`."""
        await _hop()
        video = self._videos.get(video_id)
        if video is None or video.header is None or video.header.due_at is None:
            return False
        self._update(video_id, due_at=at)
        return True

    # -- stage ledger ------------------------------------------------------------------------

    async def mark_stage_queued(self, video_id: str, stage: Stage, *, at: datetime) -> bool:
        """See :meth:`DocumentStore.mark_stage_queued
        <videosense_shared.store.DocumentStore.mark_stage_queued>`."""
        await _hop()
        info = self._stage(video_id, stage)
        if info is None or info.status != StageStatus.PENDING:
            return False
        self._set_stage(video_id, stage, status=StageStatus.RUNNING, queued_at=at)
        return True

    async def record_stage_start(self, video_id: str, stage: Stage, at: datetime) -> bool:
        """See :meth:`DocumentStore.record_stage_start
        <videosense_shared.store.DocumentStore.record_stage_start>`."""
        await _hop()
        info = self._stage(video_id, stage)
        if info is None or info.status.terminal:
            return False
        if info.started_at is not None and info.started_at <= at:
            return False
        self._set_stage(video_id, stage, started_at=at)
        return True

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
        """See :meth:`DocumentStore.finish_stage
        <videosense_shared.store.DocumentStore.finish_stage>`.

        Raises:
            ValueError: ``status`` is not terminal.
        """
        if not status.terminal:
            raise ValueError(f"{status} is not a terminal stage status")
        if started_at is not None:
            await self.record_stage_start(video_id, stage, started_at)
        await _hop()
        info = self._stage(video_id, stage)
        if info is None or info.status.terminal:
            return False
        changes: dict[str, Any] = {"status": status, "finished_at": finished_at}
        if backend:
            changes["backend"] = backend
        if model:
            changes["model"] = model
        if features is not None:
            changes["features"] = tuple(features)
        if error:
            changes["error"] = error
        self._set_stage(video_id, stage, **changes)
        return True

    async def record_chunk(
        self, video_id: str, stage: Stage, chunk_index: int, chunk_count: int
    ) -> bool:
        """See :meth:`DocumentStore.record_chunk
        <videosense_shared.store.DocumentStore.record_chunk>`.

        Raises:
            DocumentNotFoundError: no such video.
        """
        await _hop()
        video = self._items(video_id)
        if (stage, chunk_index) in video.chunks:
            return False
        # Marker and counter move together, as in the DynamoDB store's transaction.
        header = self._header(video_id)
        video.chunks.add((stage, chunk_index))
        self._update(
            video_id,
            chunks_done={**header.chunks_done, stage: header.chunks_done.get(stage, 0) + 1},
            chunk_count={**header.chunk_count, stage: chunk_count},
        )
        return True

    # -- completion outbox -------------------------------------------------------------------

    async def claim_completion(self, video_id: str, lease: timedelta) -> bool:
        """See :meth:`DocumentStore.claim_completion
        <videosense_shared.store.DocumentStore.claim_completion>`."""
        return await self._claim(video_id, "completion_published", "completion_lease_until", lease)

    async def mark_published(self, video_id: str) -> None:
        """Record that the completion event went out; the video leaves the "due" index."""
        await _hop()
        self._update(video_id, completion_published=True, completion_lease_until=None, due_at=None)

    async def claim_ingest(self, video_id: str, lease: timedelta) -> bool:
        """See :meth:`DocumentStore.claim_ingest
        <videosense_shared.store.DocumentStore.claim_ingest>`."""
        return await self._claim(video_id, "ingest_published", "ingest_lease_until", lease)

    async def mark_ingest_published(self, video_id: str) -> None:
        """Record that ``VideoIngested`` went out."""
        await _hop()
        self._update(video_id, ingest_published=True)

    # -- collection items --------------------------------------------------------------------
    # Like DynamoDB's items, these exist independently of the header: a result may arrive for
    # a video whose header is missing, and is kept.

    async def put_scenes(self, video_id: str, scenes: Iterable[Scene]) -> None:
        """Write scenes (idempotent)."""
        await _hop()
        video = self._items(video_id)
        for scene in scenes:
            video.scenes[scene.index] = scene

    async def put_keyframes(self, video_id: str, keyframes: Iterable[Keyframe]) -> None:
        """Write keyframes (idempotent; other stages' results on them survive)."""
        await _hop()
        video = self._items(video_id)
        for keyframe in keyframes:
            video.keyframes.setdefault(keyframe.frame, _Keyframe()).data = keyframe

    async def put_captions(self, video_id: str, captions: Iterable[KeyframeCaption]) -> None:
        """Store each keyframe's caption (idempotent)."""
        await _hop()
        video = self._items(video_id)
        for item in captions:
            video.keyframes.setdefault(item.frame, _Keyframe()).results["caption"] = item.caption

    async def put_recognition(self, video_id: str, results: Iterable[KeyframeRecognition]) -> None:
        """Store each keyframe's labels, faces and text (idempotent)."""
        await _hop()
        video = self._items(video_id)
        for item in results:
            found = video.keyframes.setdefault(item.frame, _Keyframe()).results
            found.update(labels=item.labels, faces=item.faces, text=item.text)

    async def put_transcript(self, video_id: str, transcript: Transcript) -> None:
        """Store the transcript (idempotent)."""
        await _hop()
        video = self._items(video_id)
        video.has_transcript = True
        video.language = transcript.language or None
        for i, segment in enumerate(transcript.segments):
            video.segments[segment_key(i)] = segment

    async def put_redaction(self, video_id: str, redaction: Redaction) -> None:
        """Store the redaction result (idempotent)."""
        await _hop()
        self._items(video_id).redaction = redaction

    # -- reading -----------------------------------------------------------------------------

    async def read(self, video_id: str) -> VideoDocument:
        """Assemble the document.

        Raises:
            DocumentNotFoundError: no such video.
        """
        await _hop()
        video = self._items(video_id)
        header = self._header(video_id)
        keyframes = [
            DocumentKeyframe.model_validate({**kf.data.model_dump(), **kf.results})
            for _, kf in sorted(video.keyframes.items())
            if kf.data is not None
        ]
        transcript = (
            assemble_transcript(video.language, list(video.segments.items()))
            if video.has_transcript
            else None
        )
        return VideoDocument(
            video_id=video_id,
            status=header.status,
            error=header.error,
            source=header.source,
            media=header.media,
            created_at=header.created_at,
            completed_at=header.completed_at,
            stages=dict(header.stages),
            scenes=tuple(scene for _, scene in sorted(video.scenes.items())),
            keyframes=tuple(keyframes),
            transcript=transcript,
            redaction=video.redaction,
        )

    # -- internals ---------------------------------------------------------------------------

    def _header(self, video_id: str) -> Header:
        video = self._videos.get(video_id)
        if video is None or video.header is None:
            raise DocumentNotFoundError(video_id)
        return video.header

    def _items(self, video_id: str) -> _Video:
        return self._videos.setdefault(video_id, _Video())

    def _stage(self, video_id: str, stage: Stage) -> StageInfo | None:
        video = self._videos.get(video_id)
        if video is None or video.header is None:
            return None
        return video.header.stages.get(stage)

    async def _claim(
        self, video_id: str, published: str, lease_until: str, lease: timedelta
    ) -> bool:
        """One outbox lease (completion or ingest): taken unless the event went out or an
        unexpired lease is held."""
        await _hop()
        video = self._videos.get(video_id)
        if video is None or video.header is None or getattr(video.header, published):
            return False
        now = utc_now()
        held: datetime | None = getattr(video.header, lease_until)
        if held is not None and held >= now:
            return False
        self._update(video_id, **{lease_until: now + lease})
        return True

    def _update(self, video_id: str, **changes: Any) -> None:
        self._videos[video_id].header = replace(self._header(video_id), **changes)

    def _set_stage(self, video_id: str, stage: Stage, **changes: Any) -> None:
        header = self._header(video_id)
        stages = {**header.stages, stage: header.stages[stage].model_copy(update=changes)}
        self._update(video_id, stages=stages)


def _implements(store: InMemoryDocumentStore) -> DocumentStore:
    return store  # mypy checks that the class satisfies the protocol
