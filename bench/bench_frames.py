"""Benchmark the frame stage against plain decoding, on a generated clip with known cuts.

Reference, measured in the same run: ``ffmpeg -v error -i CLIP -an -f null -`` (decode every
video frame, nothing else). The two are timed alternately, each in a fresh process, and the
medians compared, so a busy machine slows both alike. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.clips, the ground-truth clip generator

FPS = 25
SECONDS = 60
TOTAL = FPS * SECONDS
# Irregular scene lengths from 3.5 s to 8 s; x264 is told not to put I-frames on them.
CUTS = (87, 240, 391, 523, 700, 812, 1013, 1160, 1322, 1410)
ONE_FPS_PER_MINUTE = 60.0  # keyframes per minute when sampling one frame a second


@dataclass(frozen=True)
class Extraction:
    """What one extraction child process reports."""

    seconds: float  # the extract() call alone
    process_seconds: float  # the whole child process, interpreter start included
    rss_before_mb: float  # after imports, before extract()
    rss_peak_mb: float
    scene_starts: list[int]
    keyframes: int
    duration_s: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="clip cache")
    parser.add_argument(
        "--long-minutes",
        type=int,
        default=10,
        help="also extract a clip this many minutes long (the 60 s clip repeated) once, to "
        "compare peak memory; 0 skips it",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    if shutil.which("ffmpeg") is None:
        sys.exit("bench_frames needs the ffmpeg binary")
    clip = _clip(args.out)
    print(f"clip: {clip} ({clip.stat().st_size / 1e6:.1f} MB, {SECONDS} s 1920x1080 {FPS} fps)")

    ffmpeg_times: list[float] = []
    runs: list[Extraction] = []
    _ffmpeg(clip)  # warm the page cache so the first timed run is not penalised
    for run in range(args.runs):
        ffmpeg_times.append(_ffmpeg(clip))
        runs.append(_extract(clip))
        print(
            f"  run {run + 1}/{args.runs}: ffmpeg {ffmpeg_times[-1]:.2f} s, "
            f"extract {runs[-1].seconds:.2f} s",
            flush=True,
        )
    reference = statistics.median(ffmpeg_times)
    ours = statistics.median(r.seconds for r in runs)
    process = statistics.median(r.process_seconds for r in runs)
    last = runs[-1]
    minutes = last.duration_s / 60
    per_minute = last.keyframes / minutes
    print()
    print(
        f"ffmpeg decode (median of {args.runs}):   {reference:6.2f} s  "
        f"({SECONDS / reference:5.1f}x realtime)"
    )
    print(
        f"extract()     (median of {args.runs}):   {ours:6.2f} s  ({SECONDS / ours:5.1f}x realtime)"
    )
    print(f"ratio extract / ffmpeg:              {ours / reference:6.2f}   (target <= 1.3)")
    print(
        f"ratio whole process / ffmpeg:        {process / reference:6.2f}   "
        f"(interpreter start and imports included)"
    )
    print(
        f"peak RSS of extraction:              {last.rss_peak_mb:6.0f} MB "
        f"({last.rss_before_mb:.0f} MB after imports)"
    )
    print(
        f"keyframes: {last.keyframes} = {per_minute:.1f}/min vs {ONE_FPS_PER_MINUTE:.0f}/min "
        f"at 1 fps ({ONE_FPS_PER_MINUTE / per_minute:.1f}x fewer)"
    )
    _accuracy("scenes (60 s)", last.scene_starts, [0, *CUTS])

    if args.long_minutes > 0:
        long_clip = _long_clip(clip, args.long_minutes, args.out)
        print()
        print(f"long clip: {args.long_minutes} min ({long_clip.stat().st_size / 1e6:.0f} MB)")
        reference_long = _ffmpeg(long_clip)
        long_run = _extract(long_clip)
        print(f"ffmpeg decode:                       {reference_long:6.2f} s")
        print(
            f"extract():                           {long_run.seconds:6.2f} s  "
            f"(ratio {long_run.seconds / reference_long:.2f}, one run)"
        )
        print(
            f"peak RSS of extraction:              {long_run.rss_peak_mb:6.0f} MB "
            f"vs {last.rss_peak_mb:.0f} MB for 1 min"
        )
        truth = [k * TOTAL + c for k in range(args.long_minutes) for c in (0, *CUTS)]
        _accuracy(f"scenes ({args.long_minutes} min)", long_run.scene_starts, truth)


def _clip(out: Path) -> Path:
    from tests.clips import make_cut_clip

    path = out / "cuts-1080p25-60s-v1.mp4"
    if not path.exists():
        print(f"generating {path} (about a minute, cached afterwards) ...", flush=True)
        partial = path.with_suffix(".partial.mp4")
        make_cut_clip(
            partial,
            cut_frames=CUTS,
            total_frames=TOTAL,
            fps=FPS,
            size=(1920, 1080),
            preset="fast",
            crf=23,
        )
        partial.rename(path)
    return path


def _long_clip(clip: Path, minutes: int, out: Path) -> Path:
    path = out / f"cuts-1080p25-{minutes}min-v1.mp4"
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.write(f"file '{clip}'\n" * minutes)
        partial = path.with_suffix(".partial.mp4")
        command = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i"]
        command += [listing.name, "-c", "copy", str(partial)]
        subprocess.run(command, check=True)
        Path(listing.name).unlink()
        partial.rename(path)
    return path


def _ffmpeg(clip: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-an", "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def _extract(clip: Path) -> Extraction:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(clip)], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    return Extraction(process_seconds=time.perf_counter() - start, **report)


def _child(clip: Path) -> None:
    """Run one extraction in this fresh process; print a JSON report on stdout."""
    from frame_extractor.extraction import extract
    from frame_extractor.settings import FrameExtractorSettings

    settings = FrameExtractorSettings()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = extract(clip, settings)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    report = {
        "seconds": seconds,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "scene_starts": [s.start_frame for s in result.scenes],
        "keyframes": len(result.keyframes),
        "duration_s": result.duration_s,
    }
    print(json.dumps(report))


def _accuracy(label: str, found: list[int], truth: list[int]) -> None:
    exact = sorted(set(found) & set(truth))
    near = [t for t in truth if t not in found and (t - 1 in found or t + 1 in found)]
    missed = [t for t in truth if t not in found and t not in near]
    extra = [f for f in found if f not in truth and f - 1 not in truth and f + 1 not in truth]
    print(
        f"{label}: {len(truth)} true starts, {len(exact)} exact, {len(near)} off by one, "
        f"{len(missed)} missed {missed[:5]}, {len(extra)} false {extra[:5]}"
    )


if __name__ == "__main__":
    main()
