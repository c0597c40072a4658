"""The face tracks a redaction records in the video document: each face's time on screen and,
when the face gallery or the Rekognition collection knew it, its name (see docs/architecture.md,
"The redactor").

A track's range runs from the first frame its face was detected on to the end of the last one,
in seconds from the video's first frame (the document's scenes count the same way). No boxes:
the document stays small, and the clipper needs only when a person is on screen
(``videosense clip --person``). At most :data:`~videosense_shared.messages.MAX_FACE_TRACKS` are
kept: every named track first, then the longest unnamed ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from redactor.backend import Findings
from redactor.policy import Policy
from redactor.scan import Scan
from redactor.tracking import Track
from videosense_shared.messages import MAX_FACE_TRACK_NAME, MAX_FACE_TRACKS, FaceTrack


def _end_of(found: Scan, frame: int) -> float:
    """When ``frame`` stops being shown: the next frame's time, or one frame period after the
    last."""
    times = found.times
    if frame + 1 < len(times):
        return times[frame + 1]
    period = 1.0 / found.frame_rate if found.frame_rate > 0 else 0.04
    return times[frame] + period


def face_track(track: Track, found: Scan, policy: Policy) -> FaceTrack:
    """One track as the document records it.

    Raises:
        ValueError: the track has no detection.
    """
    if not track.detections:
        raise ValueError(f"face track {track.id} has no detection")
    origin = found.times[0]
    return FaceTrack(
        start_s=round(max(0.0, found.times[track.first] - origin), 6),
        end_s=round(_end_of(found, track.last) - origin, 6),
        # A longer name (a Rekognition ExternalImageId may hold 255 characters) is cut: the
        # document's size is bounded.
        name=track.name[:MAX_FACE_TRACK_NAME] if track.name else None,
        redacted=policy.hides(track.name),
    )


def record_tracks(
    tracks: Sequence[Track], found: Scan, policy: Policy, limit: int = MAX_FACE_TRACKS
) -> tuple[tuple[FaceTrack, ...], int]:
    """The tracks to record, in time order, and how many were left out for the ``limit``
    (named tracks are kept first, then the longest)."""
    made = [face_track(t, found, policy) for t in tracks if t.detections]
    if len(made) > limit:
        made.sort(key=lambda t: (t.name is None, -(t.end_s - t.start_s), t.start_s))
        kept = made[:limit]
    else:
        kept = made
    kept.sort(key=lambda t: (t.start_s, t.end_s, t.name or ""))
    return tuple(kept), len(made) - len(kept)


def findings_tracks(findings: Findings, policy: Policy) -> tuple[tuple[FaceTrack, ...], int]:
    """The face tracks of a finished redaction and how many were left out."""
    return record_tracks(findings.seen, findings.scan, policy)
