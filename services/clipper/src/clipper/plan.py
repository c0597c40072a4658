"""How each range is cut: which frames it holds, which whole GOPs inside it are copied and which
frames at its edges are re-encoded (docs/architecture.md, "The clipper"). Pure: works on a
:class:`~clipper.source_index.SourceIndex`, touches no file."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from clipper.ranges import TimeRange
from clipper.source_index import SourceIndex


class RangeError(ValueError):
    """A range that cannot be cut from this source (it lies beyond the end, or holds no
    frame); the message says which."""


@dataclass(frozen=True)
class RangePlan:
    """One range in frames: ``[first_pts, end_pts)`` of the source's presentation timeline.

    ``copy`` is ``(first, last)`` decode indexes of the packets copied as they are (a run of
    whole closed GOPs), or ``None`` when every frame is re-encoded; frames in
    ``[first_pts, copy start)`` and ``[copy end, end_pts)`` are re-encoded.
    """

    requested: TimeRange
    first_pts: int
    end_pts: int
    frame_count: int
    clamped: bool
    copy: tuple[int, int] | None
    copy_start_pts: int
    copy_end_pts: int

    @property
    def head(self) -> tuple[int, int]:
        """Presentation span re-encoded before the copied GOPs (empty when they start it)."""
        return (self.first_pts, self.copy_start_pts)

    @property
    def tail(self) -> tuple[int, int]:
        """Presentation span re-encoded after the copied GOPs (empty when they end it)."""
        return (self.copy_end_pts, self.end_pts)


def plan_range(index: SourceIndex, wanted: TimeRange, *, smart: bool) -> RangePlan:
    """The frames of ``wanted`` and how to cut them (``smart``: copy whole GOPs when possible).

    A frame belongs to the range when it is *presented* in ``[start, end)``; a range running
    past the end of the video is clamped to it (``clamped``).

    Raises:
        RangeError: the range starts at or after the end of the video, or holds no frame.
    """
    start = index.pts_at(wanted.start_s)
    stop = index.pts_at(wanted.end_s)
    first = index.frame_index(start)
    if first >= len(index.frames):
        raise RangeError(
            f"the range {wanted.label()} s starts after the end of the video "
            f"({index.duration_s:.3f} s)"
        )
    after = index.frame_index(stop)
    if after <= first:
        raise RangeError(f"the range {wanted.label()} s holds no frame")
    clamped = stop > index.end_pts
    first_pts = index.frames[first]
    end_pts = index.frames[after] if after < len(index.frames) else index.end_pts
    copy: tuple[int, int] | None = None
    copy_start = copy_end = end_pts
    if smart and index.splice_blocker is None:
        points = index.cut_points
        lo = bisect.bisect_left([index.cut_point_pts(p) for p in points], first_pts)
        inside = [p for p in points[lo:] if index.cut_point_pts(p) <= end_pts]
        if len(inside) >= 2:
            copy = (inside[0], inside[-1])
            copy_start = index.cut_point_pts(inside[0])
            copy_end = index.cut_point_pts(inside[-1])
    return RangePlan(
        requested=wanted,
        first_pts=first_pts,
        end_pts=end_pts,
        frame_count=after - first,
        clamped=clamped,
        copy=copy,
        copy_start_pts=copy_start,
        copy_end_pts=copy_end,
    )
