"""Time ranges and what is done to them before cutting: padding, merging, clamping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class TimeRange:
    """``[start_s, end_s)`` in seconds from the start of the video."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if self.start_s < 0 or self.end_s <= self.start_s:
            raise ValueError(f"a range needs 0 <= start < end, got [{self.start_s}, {self.end_s})")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s

    def label(self) -> str:
        """``12.000-18.500``: how the range is named in file names and chapters."""
        return f"{self.start_s:.3f}-{self.end_s:.3f}"


def pad(ranges: Iterable[TimeRange], seconds: float) -> list[TimeRange]:
    """Every range widened by ``seconds`` on both sides (never before 0).

    Raises:
        ValueError: ``seconds`` is negative.
    """
    if seconds < 0:
        raise ValueError(f"padding must be >= 0 s, got {seconds}")
    return [TimeRange(max(0.0, r.start_s - seconds), r.end_s + seconds) for r in ranges]


def merge(ranges: Iterable[TimeRange], gap_s: float) -> list[TimeRange]:
    """The ranges sorted, with overlapping ones and ones less than ``gap_s`` apart joined.

    Raises:
        ValueError: ``gap_s`` is negative.
    """
    if gap_s < 0:
        raise ValueError(f"the merge gap must be >= 0 s, got {gap_s}")
    merged: list[TimeRange] = []
    for current in sorted(ranges):
        # Overlapping or touching ranges always join; others when the gap is below gap_s.
        if merged and (
            current.start_s <= merged[-1].end_s or current.start_s - merged[-1].end_s < gap_s
        ):
            last = merged[-1]
            merged[-1] = TimeRange(last.start_s, max(last.end_s, current.end_s))
        else:
            merged.append(current)
    return merged


def prepare(ranges: Iterable[TimeRange], *, pad_s: float, merge_gap_s: float) -> list[TimeRange]:
    """Padded, then merged: the ranges to cut, in time order.

    Raises:
        ValueError: negative padding or gap.
    """
    return merge(pad(ranges, pad_s), merge_gap_s)
