"""The cutting engine's public face: cut time ranges out of a video file, frame-accurately, with
their sound (docs/architecture.md, "The clipper").

:func:`cut_ranges` cuts each range into its own MP4 and, on request, all of them into one
supercut with a chapter per range. Each range is smart cut when the source allows it (whole
GOPs copied, only the frames before the first and after the last whole GOP re-encoded), and
re-encoded whole otherwise; the result says which, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import av

from clipper.encoding import EncodeSettings, SpliceError
from clipper.plan import RangeError, RangePlan, plan_range
from clipper.ranges import TimeRange
from clipper.source_index import SourceError, SourceIndex, index_source
from clipper.writer import WrittenRange, write_clip

__all__ = [
    "CutError",
    "CutMethod",
    "CutRange",
    "CutResult",
    "EncodeSettings",
    "TimeRange",
    "cut_ranges",
]


class CutMethod(StrEnum):
    """How a range's video was made."""

    SMART = "smart"  # whole GOPs copied, the partial GOPs at the edges re-encoded
    REENCODE = "reencode"  # every frame decoded and encoded again


class CutError(Exception):
    """Nothing could be cut; ``reason`` is readable (no file was left behind)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CutRange:
    """One range as cut: what was asked, what the file holds (``start_s``/``end_s``: the first
    frame's time and where the last frame ends, in the source's timeline), how, and where."""

    requested: TimeRange
    start_s: float
    end_s: float
    frames: int
    method: CutMethod
    copied_frames: int
    reencoded_frames: int
    clamped: bool
    reason: str | None  # why a range was re-encoded rather than smart cut
    output_start_s: float  # where it starts in its file (0 except in a supercut)


@dataclass(frozen=True)
class CutResult:
    """A written file and the ranges it holds."""

    path: Path
    ranges: tuple[CutRange, ...]

    @property
    def method(self) -> CutMethod:
        """``smart`` when any range of the file was smart cut."""
        if any(r.method is CutMethod.SMART for r in self.ranges):
            return CutMethod.SMART
        return CutMethod.REENCODE


REENCODE_ASKED = "a full re-encode was asked for"
NO_WHOLE_GOP = "the range holds no whole GOP of the source, so every frame was re-encoded"


def _plans(index: SourceIndex, ranges: Sequence[TimeRange], smart: bool) -> list[RangePlan]:
    try:
        return [plan_range(index, wanted, smart=smart) for wanted in ranges]
    except RangeError as err:
        raise CutError(str(err)) from err


def _write(
    index: SourceIndex,
    plans: list[RangePlan],
    dest: Path,
    settings: EncodeSettings,
    *,
    smart: bool,
    chapters: bool,
) -> CutResult:
    reason = index.splice_blocker if smart else REENCODE_ASKED
    written: list[WrittenRange]
    try:
        written = write_clip(index, plans, dest, settings, chapters=chapters)
    except SpliceError as err:
        if not smart:
            raise CutError(f"cannot write {dest.name}: {err}") from err
        # Re-plan without copies: the same frames, every one re-encoded.
        plans = [plan_range(index, p.requested, smart=False) for p in plans]
        reason = f"smart cut impossible ({err}), re-encoded"
        written = write_clip(index, plans, dest, settings, chapters=chapters)
    except (av.FFmpegError, OSError) as err:
        raise CutError(f"cannot write {dest.name}: {err}") from err
    ranges = tuple(
        CutRange(
            requested=w.plan.requested,
            start_s=index.seconds(w.plan.first_pts),
            end_s=index.seconds(w.plan.end_pts),
            frames=w.plan.frame_count,
            method=CutMethod.SMART if w.copied_frames else CutMethod.REENCODE,
            copied_frames=w.copied_frames,
            reencoded_frames=w.reencoded_frames,
            clamped=w.plan.clamped,
            reason=None if w.copied_frames else (reason or NO_WHOLE_GOP),
            output_start_s=w.output_start_s,
        )
        for w in written
    )
    return CutResult(path=dest, ranges=ranges)


def clip_name(number: int, wanted: TimeRange) -> str:
    """File name of the ``number``-th clip (1-based): ``clip-001_12.000-18.500.mp4``."""
    return f"clip-{number:03d}_{wanted.label()}.mp4"


SUPERCUT_NAME = "supercut.mp4"


def cut_ranges(
    source: Path,
    ranges: Sequence[TimeRange],
    out_dir: Path,
    *,
    supercut: bool = False,
    smart: bool = True,
    settings: EncodeSettings | None = None,
) -> list[CutResult]:
    """Cut every range of ``source`` into its own MP4 in ``out_dir`` (and, with ``supercut``,
    all of them into :data:`SUPERCUT_NAME` with a chapter per range, listed last).

    Frames presented in ``[start, end)`` are kept, exactly; audio is trimmed to the same
    instants. A range running past the end is clamped (``CutRange.clamped``). ``smart=False``
    re-encodes every frame (what smart cutting is measured against).

    Raises:
        CutError: the source is not a readable video, a range lies entirely beyond its end or
            holds no frame, or a file cannot be written. Files already complete stay; none is
            left half-written.
    """
    if not ranges:
        raise CutError("no range to cut")
    settings = settings or EncodeSettings()
    try:
        index = index_source(source)
    except SourceError as err:
        raise CutError(err.reason) from err
    plans = _plans(index, ranges, smart)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [
        _write(
            index,
            [plan],
            out_dir / clip_name(i + 1, plan.requested),
            settings,
            smart=smart,
            chapters=False,
        )
        for i, plan in enumerate(plans)
    ]
    if supercut:
        results.append(
            _write(index, plans, out_dir / SUPERCUT_NAME, settings, smart=smart, chapters=True)
        )
    return results
