"""Benchmark the clipper's cutting engine: frame accuracy, audio sync, and the cost of a smart
cut against re-encoding the same clips whole.

A source is generated with ffmpeg (``testsrc2`` with every frame's number drawn as a row of
blocks, clicks on every whole second; H.264 ``-preset ultrafast``, closed GOPs of ``--gop``
frames with B-frames; AAC), then ``--clips`` ranges of ``--clip-seconds`` each start at random
(seeded) instants, never on a GOP boundary. Every range is cut twice through
``clipper.cutting.cut_ranges``: smart (whole GOPs copied, the partial GOPs at the edges
re-encoded) and as a full re-encode, both with the same libx264 settings. Each smart clip must
hold exactly the frames presented in its range (read back from the drawn numbers) and its clicks
must sit within one AAC frame (1024 samples) of where the source puts them; the smart cuts must
take less than 20% of the full re-encodes' time.

    python bench/bench_clips.py                 # 10 minutes of 1080p (slow to generate)
    python bench/bench_clips.py --minutes 1     # a quick look
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipper.cutting import CutMethod, CutResult, TimeRange, cut_ranges  # noqa: E402
from tests.clipper.coded_video import (  # noqa: E402
    burst_onsets,
    coded_video,
    expected_frames,
    frame_numbers,
)

FPS = 25
AUDIO_FRAME_S = 1024 / 48000
RATIO_TARGET = 0.20


def _ranges(minutes: float, count: int, length: float, gop: int, seed: int) -> list[TimeRange]:
    rng = random.Random(seed)
    total = minutes * 60
    ranges: list[TimeRange] = []
    while len(ranges) < count:
        start = round(rng.uniform(0, total - length - 0.1), 3)
        frame = start * FPS
        if abs(frame - round(frame)) < 0.01 and round(frame) % gop == 0:
            continue  # on a GOP boundary: too easy
        ranges.append(TimeRange(start, start + length))
    return ranges


def _check(result: CutResult, total_frames: int) -> list[str]:
    problems = []
    [cut] = result.ranges
    want = expected_frames(cut.requested.start_s, cut.requested.end_s, FPS, total_frames)
    got = frame_numbers(result.path)
    if got != want:
        problems.append(
            f"{result.path.name}: frames {got[:1]}..{got[-1:]} ({len(got)}), "
            f"expected {want[0]}..{want[-1]} ({len(want)})"
        )
    first = want[0] / FPS
    for onset in burst_onsets(result.path):
        expected = round(first + onset) - first  # the whole second it belongs to
        if abs(onset - expected) >= AUDIO_FRAME_S:
            problems.append(f"{result.path.name}: click at {onset:.4f} s, expected {expected:.4f}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="source length (default 10)")
    parser.add_argument("--size", default="1920x1080", help="source size (default 1920x1080)")
    parser.add_argument("--gop", type=int, default=25, help="source GOP, frames (default 25: 1 s)")
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", type=Path, help="reuse a source generated earlier")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    total_frames = round(args.minutes * 60 * FPS)
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as tmp:
        work = Path(tmp)
        source = args.source
        if source is None:
            source = work / "source.mp4"
            began = time.perf_counter()
            coded_video(source, seconds=args.minutes * 60, size=(width, height), gop=args.gop,
                        preset="ultrafast")  # fmt: skip
            print(f"source: {args.minutes:g} min {args.size} {FPS} fps, GOP {args.gop}, "
                  f"{source.stat().st_size / 2**20:.0f} MiB, generated in "
                  f"{time.perf_counter() - began:.0f} s")  # fmt: skip
        ranges = _ranges(args.minutes, args.clips, args.clip_seconds, args.gop, args.seed)

        began = time.perf_counter()
        smart = cut_ranges(source, ranges, work / "smart")
        smart_s = time.perf_counter() - began
        began = time.perf_counter()
        cut_ranges(source, ranges, work / "whole", smart=False)
        whole_s = time.perf_counter() - began

        problems = [p for result in smart for p in _check(result, total_frames)]
        copied = sum(r.copied_frames for result in smart for r in result.ranges)
        encoded = sum(r.reencoded_frames for result in smart for r in result.ranges)
        methods = {r.method for result in smart for r in result.ranges}
        ratio = smart_s / whole_s
        print(f"{args.clips} clips of {args.clip_seconds:g} s: smart cut {smart_s:.1f} s "
              f"({copied} frames copied, {encoded} re-encoded), full re-encode {whole_s:.1f} s, "
              f"ratio {ratio:.1%} (target < {RATIO_TARGET:.0%})")  # fmt: skip
        print(f"frame-exact and audio within one AAC frame: {'yes' if not problems else 'NO'}")
        for problem in problems:
            print(f"  {problem}")
        ok = not problems and ratio < RATIO_TARGET and methods == {CutMethod.SMART}
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
