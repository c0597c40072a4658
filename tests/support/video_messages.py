"""Builders of the messages the aggregator folds, for one test video."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from videosense_shared.bus import Delivery
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    CaptionsReady,
    FramesExtracted,
    ImageRef,
    Keyframe,
    KeyframeCaption,
    MediaFacts,
    Model,
    Scene,
    SourceRef,
    Stage,
    StageFailed,
    Transcript,
    TranscriptReady,
    VideoIngested,
    utc_now,
)
from videosense_shared.store import DocumentStore


@dataclass(frozen=True)
class SampleVideo:
    """One video's ``VideoIngested`` and the frame stage's chunks (two scenes each)."""

    ingested: VideoIngested
    frames: tuple[FramesExtracted, ...]

    @property
    def video_id(self) -> str:
        return self.ingested.video_id

    async def create(self, store: DocumentStore) -> None:
        """Create the header, as ingest does before publishing ``VideoIngested``."""
        assert await store.create(
            video_id=self.video_id,
            trace_id=self.ingested.trace_id,
            source=self.ingested.source,
            media=self.ingested.media,
            stages=self.ingested.stages,
        )

    def captions(self, chunk: int, *, started_at: datetime | None = None) -> CaptionsReady:
        """The captions of frames chunk ``chunk``."""
        frames = self.frames[chunk]
        now = utc_now()
        return CaptionsReady(
            message_id=message_id_for(frames.message_id, "CaptionsReady"),
            video_id=self.video_id,
            trace_id=self.ingested.trace_id,
            chunk_index=chunk,
            chunk_count=len(self.frames),
            backend="test",
            model="test-captioner",
            captions=tuple(
                KeyframeCaption(keyframe_id=k.id, frame=k.frame, caption=f"frame {k.frame}")
                for k in frames.keyframes
            ),
            started_at=started_at or now,
            finished_at=now,
        )

    def transcript(self, *, started_at: datetime, finished_at: datetime) -> TranscriptReady:
        """A one-line transcript."""
        return TranscriptReady(
            message_id=message_id_for(self.ingested.message_id, "TranscriptReady"),
            video_id=self.video_id,
            trace_id=self.ingested.trace_id,
            backend="test",
            transcript=Transcript(language="en", text="hello", segments=()),
            started_at=started_at,
            finished_at=finished_at,
        )

    def failed(self, stage: Stage, error: str, *, skipped: bool = False) -> StageFailed:
        """The stage's ``StageFailed``."""
        return StageFailed(
            message_id=message_id_for(self.ingested.message_id, "StageFailed", stage.value),
            video_id=self.video_id,
            trace_id=self.ingested.trace_id,
            stage=stage,
            error=error,
            backend="test",
            skipped=skipped,
        )


def sample_video(
    bucket: str,
    key: str,
    *,
    chunks: int = 1,
    stages: tuple[Stage, ...] = (Stage.FRAMES,),
    duration_s: float | None = None,
    started_at: datetime | None = None,
) -> SampleVideo:
    """A video of ``chunks`` frames chunks requesting ``stages`` (4 s of video per chunk)."""
    video_id = video_id_for(bucket, key, "etag")
    trace = trace_id_for(video_id)
    media = MediaFacts(
        duration_s=chunks * 4.0 if duration_s is None else duration_s,
        fps=25,
        width=320,
        height=240,
        frame_count=chunks * 100,
        video_codec="h264",
        has_audio=True,
    )
    ingested = VideoIngested(
        message_id=message_id_for(video_id, "VideoIngested"),
        video_id=video_id,
        trace_id=trace,
        source=SourceRef(bucket=bucket, key=key, etag="etag", size_bytes=10),
        media=media,
        stages=stages,
    )
    now = utc_now()
    parts = []
    for i in range(chunks):
        scenes = tuple(
            Scene(
                index=2 * i + j,
                start_frame=(2 * i + j) * 50,
                end_frame=(2 * i + j + 1) * 50,
                start_s=(2 * i + j) * 2.0,
                end_s=(2 * i + j + 1) * 2.0,
            )
            for j in range(2)
        )
        keyframes = tuple(
            Keyframe(
                id=f"kf{s.start_frame + 25:09d}",
                frame=s.start_frame + 25,
                t_s=s.start_s + 1,
                scene_index=s.index,
                image=ImageRef(
                    bucket=bucket,
                    key=f"frames/{video_id}/{s.start_frame:09d}.jpg",
                    width=8,
                    height=8,
                ),
            )
            for s in scenes
        )
        parts.append(
            FramesExtracted(
                message_id=message_id_for(ingested.message_id, "FramesExtracted", str(i)),
                video_id=video_id,
                trace_id=trace,
                stages=stages,
                chunk_index=i,
                chunk_count=chunks,
                scene_count=2 * chunks,
                keyframe_count=2 * chunks,
                scenes=scenes,
                keyframes=keyframes,
                backend="test",
                started_at=started_at or now - timedelta(seconds=1),
                finished_at=now,
            )
        )
    return SampleVideo(ingested=ingested, frames=tuple(parts))


def delivery(message: Model, *, receive_count: int = 1, max_receives: int | None = 5) -> Delivery:
    """A delivery of ``message`` from a queue that dead-letters after ``max_receives``."""
    return Delivery(
        body=message.model_dump_json(),
        attributes={},
        sqs_message_id=f"sqs-{message.model_dump().get('message_id', 'x')}",
        receive_count=receive_count,
        max_receives=max_receives,
    )


def video_ingested(key: str = "uploads/cat.mp4") -> VideoIngested:
    """A small ``VideoIngested`` for the frames stage, as bus and dead-letter tests send it."""
    video_id = video_id_for("videosense-media", key, "etag-1")
    return VideoIngested(
        message_id=message_id_for(video_id, "VideoIngested"),
        video_id=video_id,
        trace_id=trace_id_for(video_id),
        source=SourceRef(bucket="videosense-media", key=key, etag="etag-1", size_bytes=1024),
        media=MediaFacts(
            duration_s=3.0,
            fps=25.0,
            width=320,
            height=240,
            frame_count=75,
            video_codec="h264",
            has_audio=False,
        ),
        stages=(Stage.FRAMES,),
    )
