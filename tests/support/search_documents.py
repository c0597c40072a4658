"""Finished video documents built in tests, for the search index and the indexer."""

from __future__ import annotations

from datetime import UTC, datetime

from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import (
    Box,
    Face,
    ImageRef,
    Label,
    MediaFacts,
    Segment,
    SourceRef,
    TextDetection,
    Transcript,
    VideoStatus,
)

BOX = Box(left=0.1, top=0.1, width=0.2, height=0.2)


def keyframe(
    frame: int,
    *,
    scene: int = 0,
    text: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    faces: tuple[str | None, ...] = (),
    caption: str | None = None,
    fps: float = 25.0,
) -> DocumentKeyframe:
    """A keyframe at ``frame / fps`` seconds with what the stages found in it."""
    return DocumentKeyframe(
        id=f"kf-{frame}",
        frame=frame,
        t_s=frame / fps,
        scene_index=scene,
        image=ImageRef(bucket="media", key=f"frames/v/{frame:09d}.jpg", width=640, height=360),
        caption=caption,
        text=tuple(TextDetection(text=t, confidence=90.0, box=BOX) for t in text),
        labels=tuple(Label(name=n, confidence=85.0) for n in labels),
        faces=tuple(Face(box=BOX, confidence=99.0, name=n) for n in faces),
    )


def segment(start_s: float, end_s: float, text: str, speaker: str | None = None) -> Segment:
    """A transcript segment."""
    return Segment(start_s=start_s, end_s=end_s, text=text, speaker=speaker)


def document(
    video_id: str,
    *keyframes: DocumentKeyframe,
    segments: tuple[Segment, ...] = (),
    status: VideoStatus = VideoStatus.COMPLETE,
    error: str | None = None,
    duration_s: float = 60.0,
) -> VideoDocument:
    """A finished document of ``video_id`` (uploaded as ``uploads/<video_id>.mp4``)."""
    transcript = (
        Transcript(language="en", text=" ".join(s.text for s in segments), segments=segments)
        if segments
        else None
    )
    return VideoDocument(
        video_id=video_id,
        status=status,
        error=error,
        source=SourceRef(bucket="media", key=f"uploads/{video_id}.mp4", etag="e", size_bytes=1),
        media=MediaFacts(
            duration_s=duration_s,
            fps=25.0,
            width=640,
            height=360,
            frame_count=int(duration_s * 25),
            video_codec="h264",
            has_audio=bool(segments),
        ),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        completed_at=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
        keyframes=keyframes,
        transcript=transcript,
    )
