"""Benchmark what a whole offline run costs on the CPU: seconds per minute of video, per stage.

Runs ``videosense run`` (the embedded stack, the default stages: frames, recognition with the
packaged face, OCR and label models, the transcript with the packaged Whisper model) as a child
process on two generated clips (``tools/make_sample.py``: a title card, a test pattern, a face,
colour bars, speech):

- the ``make demo`` sample: 12 s at 640x360;
- a 1-minute clip at 1280x720 (the four shots repeated; target: the whole run in under 1 minute
  of wall time on 2 cores).

For each it prints the wall time of the whole command (start-up, emulator and model loading
included), each stage's own time from the document (``finished_at - started_at``) and per minute
of video, and the peak RSS of the command's process tree (the largest single process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videosense_shared.document import VideoDocument

ROOT = Path(__file__).resolve().parents[1]
WHOLE_RUN_TARGET_S = 60.0


@dataclass(frozen=True)
class Clip:
    """A generated clip to analyse."""

    name: str
    seconds: int
    size: str


CLIPS = (Clip("demo sample", 12, "640x360"), Clip("1 min 720p", 60, "1280x720"))


def _make(clip: Clip, out: Path) -> Path:
    options = ["--seconds", str(clip.seconds), "--size", clip.size]
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample.py"), str(out), *options],
        check=True,
        capture_output=True,
    )
    return out


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(path: Path) -> tuple[VideoDocument, float, float]:
    """The document, the wall time and the CPU time (user + system) of one run."""
    # A clean environment: the defaults a new user gets, nothing configured.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "videosense", "run", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"videosense run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return VideoDocument.model_validate_json(done.stdout), wall, cpu


def _report(clip: Clip, document: VideoDocument, wall: float, cpu: float) -> dict[str, Any]:
    minutes = clip.seconds / 60
    stages: dict[str, float] = {}
    for stage, info in document.stages.items():
        if info.started_at and info.finished_at:
            stages[stage.value] = (info.finished_at - info.started_at).total_seconds()
    print(f"{clip.name}: {clip.seconds} s at {clip.size}, status {document.status.value}")
    for name, seconds in stages.items():
        print(f"  {name:<12} {seconds:6.2f} s   {seconds / minutes:6.1f} s per minute of video")
    print(f"  {'whole run':<12} {wall:6.2f} s   {wall / minutes:6.1f} s per minute of video")
    # CPU time does not grow with other work on the machine, as wall time does: divided by
    # the cores it is what the run needs of an idle 2-core machine, at least.
    print(f"  {'CPU time':<12} {cpu:6.2f} s   user+system of the run; / 2 cores = {cpu / 2:.1f} s")
    return {
        "clip": clip.name,
        "wall_s": wall,
        "cpu_s": cpu,
        "stages_s": stages,
        "status": document.status,
    }


def main() -> int:
    """Run the benchmark; exit code 1 when the 1-minute clip misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the generated clips in this directory")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="videosense-bench-stages-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for clip in CLIPS:
            path = _make(clip, where / f"{clip.seconds}s-{clip.size}.mp4")
            document, wall, cpu = _run(path)
            results.append(_report(clip, document, wall, cpu))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the largest process: {peak_mb:.0f} MB")
    minute = results[-1]
    ok = minute["wall_s"] < WHOLE_RUN_TARGET_S
    verdict = "PASS" if ok else "MISS"
    print(
        f"1-minute 720p clip, whole offline run: {minute['wall_s']:.1f} s "
        f"(target < {WHOLE_RUN_TARGET_S:.0f} s): {verdict}; load average now "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(json.dumps(results, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
