"""Faces seen on sampled frames, linked into tracks, and turned into a box on every frame.

Detection runs on a frame every few tenths of a second (and on the first frame of every shot).
:class:`Tracker` links each sample's detections to the tracks alive in the shot, by overlap
with where each track's motion says the face is now (IoU), or failing that by how near the
centres are; a track survives a few samples without its face (a turned head, a missed
detection). A hard cut ends every track.

:func:`plan` then gives every frame its boxes: linear interpolation between a track's
detections, and before its first and after its last detection an extension of about one sample
interval that follows the face's motion (a face walking in from the edge was there before it was
first detected), growing a little with distance, never across a cut. Boxes are padded on every
side. Everything is in pixels of the coded (unrotated) frame.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: A box in pixels: left, top, right, bottom (right/bottom exclusive, floats).
PixelBox = tuple[float, float, float, float]

# Linking: a detection joins a track when its box overlaps the predicted one this much, or its
# centre is this close (in box diagonals) to the predicted centre.
_MIN_IOU = 0.1
_MAX_CENTRE_DIAGONALS = 1.0
#: Detections a track's motion at its start or end is fitted over.
FIT = 4
# An extension grows the box by this fraction of its size per frame away from the detection:
# the further from a detection, the less the motion estimate is worth.
_GROWTH_PER_FRAME = 0.01


def iou(a: PixelBox, b: PixelBox) -> float:
    """Intersection over union of two pixel boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: PixelBox, b: PixelBox) -> float:
    """Distance of the centres in diagonals of ``b``."""
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    diagonal = max(1.0, ((b[2] - b[0]) ** 2 + (b[3] - b[1]) ** 2) ** 0.5)
    return float((dx * dx + dy * dy) ** 0.5 / diagonal)


def _lerp(a: PixelBox, b: PixelBox, t: float) -> PixelBox:
    return (
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
        a[3] + (b[3] - a[3]) * t,
    )


def _grow(box: PixelBox, fraction: float) -> PixelBox:
    dx = (box[2] - box[0]) * fraction
    dy = (box[3] - box[1]) * fraction
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


@dataclass
class Track:
    """One face (or text region) followed through one shot."""

    id: int
    kind: str
    scene_start: int
    detections: list[tuple[int, PixelBox]] = field(default_factory=list)
    votes: list[str | None] = field(default_factory=list)
    missed: int = 0
    closed: bool = False

    @property
    def first(self) -> int:
        """Frame of the first detection."""
        return self.detections[0][0]

    @property
    def last(self) -> int:
        """Frame of the last detection."""
        return self.detections[-1][0]

    @property
    def name(self) -> str | None:
        """Who the face is: the most frequent name of its identified faces (``None``: none
        identified, or as many unidentified faces as the most frequent name)."""
        counts = Counter(self.votes)
        if not counts:
            return None
        (best, n), *_ = counts.most_common(1)
        return best if best is not None and n > counts.get(None, 0) else None

    def velocity(self, at_start: bool) -> PixelBox:
        """Per-frame motion of the box at the track's start or end: its centre's, fitted over the
        first (last) few detections so one jittery box does not send it astray; the size is
        kept (zero with one detection)."""
        window = self.detections[:FIT] if at_start else self.detections[-FIT:]
        if len(window) < 2:
            return (0.0, 0.0, 0.0, 0.0)
        frames = [f for f, _ in window]
        mean_f = sum(frames) / len(frames)
        spread = sum((f - mean_f) ** 2 for f in frames)
        if spread == 0:
            return (0.0, 0.0, 0.0, 0.0)
        cx = [(b[0] + b[2]) / 2 for _, b in window]
        cy = [(b[1] + b[3]) / 2 for _, b in window]
        mean_x, mean_y = sum(cx) / len(cx), sum(cy) / len(cy)
        vx = sum((f - mean_f) * (x - mean_x) for f, x in zip(frames, cx, strict=True)) / spread
        vy = sum((f - mean_f) * (y - mean_y) for f, y in zip(frames, cy, strict=True)) / spread
        return (vx, vy, vx, vy)

    def predict(self, frame: int) -> PixelBox:
        """Where the face should be at ``frame`` (linear motion fitted over the last detections)."""
        last_frame, box = self.detections[-1]
        v = self.velocity(at_start=False)
        k = frame - last_frame
        return (box[0] + v[0] * k, box[1] + v[1] * k, box[2] + v[2] * k, box[3] + v[3] * k)


class Tracker:
    """Links detections on sampled frames (fed in frame order) into tracks."""

    def __init__(
        self, *, max_missed: int, kind: str = "face", max_gap_frames: int | None = None
    ) -> None:
        self._max_missed = max_missed
        self._max_gap = max_gap_frames
        self._kind = kind
        self._tracks: list[Track] = []
        self._scene_start = 0

    @property
    def tracks(self) -> list[Track]:
        """Every track so far, in order of creation."""
        return self._tracks

    def open_tracks(self) -> list[Track]:
        """The tracks that may still be continued."""
        return [t for t in self._tracks if not t.closed]

    def cut(self, frame: int) -> None:
        """A new shot starts at ``frame``: every open track ends."""
        for track in self._tracks:
            track.closed = True
        self._scene_start = frame

    def observe(self, frame: int, boxes: Sequence[PixelBox]) -> list[Track]:
        """The detections of the sample at ``frame``; returns the track of each box.

        ``max_gap_frames`` (for detectors that do not report samples without a face) also
        ends a track whose last detection is further back than that.
        """
        if self._max_gap is not None:
            for track in self._tracks:
                if frame - track.last > self._max_gap:
                    track.closed = True
        open_tracks = [t for t in self._tracks if not t.closed]
        candidates: list[tuple[float, int, int]] = []
        for ti, track in enumerate(open_tracks):
            predicted = track.predict(frame)
            for bi, box in enumerate(boxes):
                overlap = iou(box, predicted)
                if overlap >= _MIN_IOU:
                    candidates.append((1.0 + overlap, ti, bi))
                    continue
                distance = _centre_distance(box, predicted)
                if distance <= _MAX_CENTRE_DIAGONALS:
                    candidates.append((1.0 - distance, ti, bi))
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for _score, ti, bi in sorted(candidates, reverse=True):
            if ti in used or bi in assigned:
                continue
            used.add(ti)
            assigned[bi] = open_tracks[ti]
        for ti, track in enumerate(open_tracks):
            if ti in used:
                track.missed = 0
            else:
                track.missed += 1
                track.closed = track.missed > self._max_missed
        out: list[Track] = []
        for bi, box in enumerate(boxes):
            found = assigned.get(bi)
            if found is None:
                found = Track(len(self._tracks), self._kind, self._scene_start)
                self._tracks.append(found)
            found.detections.append((frame, box))
            out.append(found)
        return out


@dataclass(frozen=True)
class Geometry:
    """What :func:`plan` needs to know about the video and the sampling."""

    width: int
    height: int
    frame_count: int
    cuts: tuple[int, ...]  # first frames of every shot after the first, ascending
    extend_frames: int  # how far tracks are extended after their last detection
    padding: float
    # A track whose face is at the picture's edge when first (last) seen is extended up to this
    # far, until its box has left the picture: a face walking in is partly visible, and not yet
    # detectable, for a while before its first detection.
    edge_frames: int = 0
    # How far tracks are extended before their first detection (0: ``extend_frames``): new faces
    # are looked for less often than known ones are followed.
    extend_before: int = 0


def _scene_bounds(frame: int, cuts: Sequence[int], frame_count: int) -> tuple[int, int]:
    """``[start, end)`` of the shot holding ``frame``."""
    i = bisect_right(cuts, frame)
    start = cuts[i - 1] if i > 0 else 0
    end = cuts[i] if i < len(cuts) else frame_count
    return start, end


# A face is taller than the detector's box is (forehead and chin): more padding vertically.
_VERTICAL_PADDING = 1.25


def _padded(box: PixelBox, padding: float, width: int, height: int) -> PixelBox | None:
    dx = (box[2] - box[0]) * padding
    dy = (box[3] - box[1]) * padding * _VERTICAL_PADDING
    x0, y0, x1, y1 = box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy
    x0, y0 = max(0.0, x0), max(0.0, y0)
    x1, y1 = min(float(width), x1), min(float(height), y1)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None  # entirely outside the picture
    return (x0, y0, x1, y1)


def _at_edge(box: PixelBox, width: int, height: int) -> bool:
    """Whether the box is within twice its size of the picture's edge."""
    mx, my = 2 * (box[2] - box[0]), 2 * (box[3] - box[1])
    return box[0] < mx or box[1] < my or box[2] > width - mx or box[3] > height - my


def _inside(box: PixelBox, width: int, height: int) -> bool:
    """Whether any of the box is inside the picture."""
    return box[2] > 0 and box[3] > 0 and box[0] < width and box[1] < height


def _frame_of(detection: tuple[int, PixelBox]) -> int:
    return detection[0]


def track_boxes(
    track: Track, geometry: Geometry, window: tuple[int, int] | None = None
) -> dict[int, PixelBox]:
    """The track's (padded, clipped) box on every frame it covers, or on those of them in
    ``window`` (``[first, end)`` frames: the same boxes, computed for that stretch only)."""
    start, end = _scene_bounds(track.first, geometry.cuts, geometry.frame_count)
    lo, hi = window if window is not None else (start, end)
    boxes: dict[int, PixelBox] = {}
    detections = track.detections
    # The detection pairs around the window only (a track may run through the whole video).
    first_pair = max(0, bisect_right(detections, lo, key=_frame_of) - 1)
    last_pair = bisect_right(detections, hi, key=_frame_of)
    for (fa, a), (fb, b) in itertools.pairwise(detections[first_pair : last_pair + 1]):
        for f in range(max(fa, lo), min(fb, hi)):
            # Further from both detections, less sure: a turning head, a face missed meanwhile.
            boxes[f] = _grow(
                _lerp(a, b, (f - fa) / (fb - fa)), _GROWTH_PER_FRAME * min(f - fa, fb - f)
            )
    last_frame, last_box = detections[-1]
    if lo <= last_frame < hi:
        boxes[last_frame] = last_box
    for at_start in (True, False):
        anchor_frame, anchor = detections[0] if at_start else detections[-1]
        v = track.velocity(at_start)
        step = -1 if at_start else 1
        usual = (
            (geometry.extend_before or geometry.extend_frames)
            if at_start
            else geometry.extend_frames
        )

        def moved(k: int, anchor: PixelBox = anchor, v: PixelBox = v, step: int = step) -> PixelBox:
            return (
                anchor[0] + v[0] * step * k,
                anchor[1] + v[1] * step * k,
                anchor[2] + v[2] * step * k,
                anchor[3] + v[3] * step * k,
            )

        reach = usual
        # Entering or leaving: at the edge, and its motion takes it out of the picture.
        w, h = geometry.width, geometry.height
        if _at_edge(anchor, w, h) and not _inside(moved(geometry.edge_frames), w, h):
            reach = max(reach, geometry.edge_frames)
        for k in range(1, reach + 1):
            f = anchor_frame + step * k
            if f < start or f >= end or (f < lo if at_start else f >= hi):
                break
            grown = _grow(moved(k), _GROWTH_PER_FRAME * k)
            if k > usual and not _inside(grown, geometry.width, geometry.height):
                break  # it has left the picture
            if lo <= f < hi:
                boxes[f] = grown
    out: dict[int, PixelBox] = {}
    for f, box in boxes.items():
        padded = _padded(box, geometry.padding, geometry.width, geometry.height)
        if padded is not None:
            out[f] = padded
    return out


def plan(tracks: Iterable[Track], geometry: Geometry) -> dict[int, list[PixelBox]]:
    """Every frame's boxes to redact (frames without a box are absent)."""
    frames: dict[int, list[PixelBox]] = {}
    for track in tracks:
        for f, box in track_boxes(track, geometry).items():
            frames.setdefault(f, []).append(box)
    return frames
