"""Benchmark the frame stage against plain decoding, on a generated clip with known cuts.

Reference, measured in the same run: ``ffmpeg -v error -i CLIP -an -f null -`` (decode every
video frame, nothing else). The two are timed alternately, each in a fresh process, and the
medians compared, so a busy machine slows both alike. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
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
sys.path.insert(0, str(ROOT))  # for tests.support.clips, the ground-truth clip generator

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
    cpu_seconds: float  # CPU time (user + system, all threads) of the extract() call
    process_seconds: float  # the whole child process, interpreter start included
    rss_before_mb: float  # after imports, before extract()
    rss_peak_mb: float
    scene_starts: list[int]
    keyframes: int
    keyframe_frames: list[int]
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
    parser.add_argument(
        "--no-pyscenedetect",
        dest="pyscenedetect",
        action="store_false",
        help="skip timing the PySceneDetect detector (detector=pyscenedetect) alongside ours",
    )
    parser.add_argument(
        "--no-economy",
        dest="economy",
        action="store_false",
        help="skip the 3-minute keyframe economy clip",
    )
    parser.add_argument(
        "--no-decode-less",
        dest="decode_less",
        action="store_false",
        help="skip timing extraction with skip_loop_filter=true alongside",
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
    psd_runs: list[Extraction] = []
    fast_runs: list[Extraction] = []
    _ffmpeg(clip)  # warm the page cache so the first timed run is not penalised
    for run in range(args.runs):
        ffmpeg_times.append(_ffmpeg(clip))
        runs.append(_extract(clip))
        line = (
            f"  run {run + 1}/{args.runs}: ffmpeg {ffmpeg_times[-1]:.2f} s, "
            f"extract {runs[-1].seconds:.2f} s"
        )
        if args.pyscenedetect:
            psd_runs.append(_extract(clip, "pyscenedetect"))
            line += f", with PySceneDetect {psd_runs[-1].seconds:.2f} s"
        if args.decode_less:
            fast_runs.append(_extract(clip, skip_loop_filter=True))
            line += f", skipping the loop filter {fast_runs[-1].seconds:.2f} s"
        print(line, flush=True)
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
    cpu_reference = statistics.median(FFMPEG_CPU[1:])  # [0] warmed the page cache
    cpu_ours = statistics.median(r.cpu_seconds for r in runs)
    print(
        f"CPU time ratio extract / ffmpeg:     {cpu_ours / cpu_reference:6.2f}   "
        f"({cpu_ours:.1f} s vs {cpu_reference:.1f} s of CPU; steadier than wall time when the "
        f"machine is busy)"
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

    if psd_runs:
        psd = statistics.median(r.seconds for r in psd_runs)
        print()
        print("detector comparison on the same clip, same decode pass (median of each):")
        cpu_psd = statistics.median(r.cpu_seconds for r in psd_runs)
        print(
            f"  ours (content, default):           {ours:6.2f} s  ratio {ours / reference:.2f}"
            f"  CPU ratio {cpu_ours / cpu_reference:.2f}"
        )
        print(
            f"  PySceneDetect AdaptiveDetector:    {psd:6.2f} s  ratio {psd / reference:.2f}"
            f"  CPU ratio {cpu_psd / cpu_reference:.2f}"
        )
        _accuracy("  ours          ", last.scene_starts, [0, *CUTS])
        _accuracy("  PySceneDetect ", psd_runs[-1].scene_starts, [0, *CUTS])

    if fast_runs:
        fast = statistics.median(r.seconds for r in fast_runs)
        cpu_fast = statistics.median(r.cpu_seconds for r in fast_runs)
        print()
        print("decoding less: skip_loop_filter=true (no deblocking; JPEGs keep block edges):")
        print(
            f"  extract():                         {fast:6.2f} s  ratio {fast / reference:.2f} "
            f"(target < 1.0; default settings {ours / reference:.2f})"
            f"  CPU ratio {cpu_fast / cpu_reference:.2f}"
        )
        _accuracy("  scenes         ", fast_runs[-1].scene_starts, [0, *CUTS])

    if args.economy:
        _economy(args.out)

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


# The economy clip: (kind, seconds) segments, 3 minutes in all. "still": a long static scene
# (one frame held); "moving": a long moving scene; "repeat": shots alternating between two
# set-ups, each repeat identical to the last (an interview's shot / reverse shot); "fast": a
# fast-cut passage of 0.64 s shots.
ECONOMY_FPS = 25
ECONOMY_SIZE = (640, 360)
ECONOMY_PLAN: tuple[tuple[str, float], ...] = (
    ("still", 22.0),
    ("moving", 20.0),
    ("repeat", 5.0),
    ("repeat", 4.0),
    ("repeat", 6.0),
    ("repeat", 4.0),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("still", 20.0),
    ("still", 18.0),
    ("repeat", 5.0),
    ("repeat", 5.0),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("still", 24.0),
    ("moving", 15.0),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("fast", 0.64),
    ("still", 22.4),
)


def _economy_shots() -> list[tuple[str, int]]:
    """(lavfi source, frames) per scene of the economy clip."""
    from tests.support.clips import SCENE_SOURCES

    still = ",trim=end_frame=1,loop=loop=-1:size=1,setpts=N/{fps}/TB"
    set_ups = (SCENE_SOURCES[0], SCENE_SOURCES[4])  # the two alternating set-ups
    shots: list[tuple[str, int]] = []
    counters = {"still": 0, "moving": 0, "repeat": 0, "fast": 0}
    for kind, seconds in ECONOMY_PLAN:
        n = counters[kind]
        counters[kind] += 1
        # Sources chosen so that no two neighbouring scenes share one (that would be no cut).
        if kind == "still":
            source = SCENE_SOURCES[(2, 5, 6, 0, 2)[n % 5]] + still
        elif kind == "moving":
            source = SCENE_SOURCES[1]
        elif kind == "repeat":
            source = set_ups[n % 2]
        else:
            source = SCENE_SOURCES[n % len(SCENE_SOURCES)]
        shots.append((source, round(seconds * ECONOMY_FPS)))
    return shots


def _economy_clip(out: Path) -> Path:
    from tests.support.clips import Shot, render

    path = out / "economy-360p25-3min-v2.mp4"
    if not path.exists():
        print(f"generating {path} (about a minute, cached afterwards) ...", flush=True)
        partial = path.with_suffix(".partial.mp4")
        shots = [Shot(source, frames) for source, frames in _economy_shots()]
        render(partial, shots, fps=ECONOMY_FPS, size=ECONOMY_SIZE, audio=False, preset="fast")
        partial.rename(path)
    return path


def _economy(out: Path) -> None:
    """Keyframes per minute and scene coverage on the economy clip, against 1 fps sampling."""
    clip = _economy_clip(out)
    frames = [n for _, n in _economy_shots()]
    starts = [sum(frames[:i]) for i in range(len(frames))]
    ends = [*starts[1:], sum(frames)]
    run = _extract(clip)
    minutes = run.duration_s / 60
    per_minute = run.keyframes / minutes
    long_scenes = [(a, b) for a, b in zip(starts, ends, strict=True) if b - a > ECONOMY_FPS]
    covered = [(a, b) for a, b in long_scenes if any(a <= k < b for k in run.keyframe_frames)]
    one_fps = ONE_FPS_PER_MINUTE * minutes
    print()
    print(
        f"economy clip: {clip.name}, {run.duration_s:.0f} s, {len(frames)} scenes "
        f"({len(long_scenes)} longer than 1 s): long stills, repeated shots, fast cuts"
    )
    print(
        f"keyframes: {run.keyframes} = {per_minute:.1f}/min (target <= 12) vs "
        f"{one_fps:.0f} = {ONE_FPS_PER_MINUTE:.0f}/min at 1 fps: "
        f"{ONE_FPS_PER_MINUTE / per_minute:.1f}x fewer"
    )
    print(
        f"coverage of scenes longer than 1 s: {len(covered)}/{len(long_scenes)} = "
        f"{100 * len(covered) / len(long_scenes):.0f}% (target 100%)"
    )
    _accuracy("scenes (economy)", run.scene_starts, starts)


def _clip(out: Path) -> Path:
    from tests.support.clips import make_cut_clip

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


FFMPEG_CPU: list[float] = []  # CPU seconds of each _ffmpeg() run, in order


def _ffmpeg(clip: Path) -> float:
    """Wall seconds of one ffmpeg decode; its CPU seconds are appended to FFMPEG_CPU."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-an", "-f", "null", "-"], check=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    FFMPEG_CPU.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
    return seconds


def _extract(
    clip: Path, detector: str = "content", *, skip_loop_filter: bool = False
) -> Extraction:
    """Extract ``clip`` in a fresh process with default settings but these two."""
    env = {
        **os.environ,
        "VIDEOSENSE_FRAME_EXTRACTOR_DETECTOR": detector,
        "VIDEOSENSE_FRAME_EXTRACTOR_SKIP_LOOP_FILTER": str(skip_loop_filter).lower(),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(clip)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    report = json.loads(done.stdout)
    return Extraction(process_seconds=time.perf_counter() - start, **report)


def _child(clip: Path) -> None:
    """Run one extraction in this fresh process; print a JSON report on stdout."""
    from frame_extractor.extraction import extract
    from frame_extractor.settings import FrameExtractorSettings

    settings = FrameExtractorSettings()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before = usage.ru_maxrss / 1024
    start = time.perf_counter()
    result = extract(clip, settings)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = after.ru_maxrss / 1024  # KiB on Linux
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    report = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "scene_starts": [s.start_frame for s in result.scenes],
        "keyframes": len(result.keyframes),
        "keyframe_frames": [k.frame for k in result.keyframes],
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
