"""A soak: a burst of uploads to a running stack whose services are separate processes.

Starts an emulator (``--emulator``: the embedded moto server, the default, or LocalStack in
host mode) and every service as its own process with the environment the compose file gives it
(``bench/process_stack.py``, on ``tests/support/service_processes.py``: ``python -m
<package>``), with ``--workers`` frame-extractor processes (``docker compose up --scale
frame-extractor=N``), then uploads ``--videos`` videos in one burst and waits for every
completion. The videos are cut by stream copy from one generated film (``bench/long_films.py``),
so making a hundred costs one two-minute encode:

- lengths drawn between 5 and 120 s, cut on whole seconds (the film has a keyframe every
  second, so a stream copy starts on one); the film speaks in two places, so some clips have
  speech and some do not; one in ten has its audio dropped;
- one in twelve is a bad file (random bytes named ``.mp4``: ingest must fail it, once);
- one in ten is uploaded twice to the same key with the same bytes (a duplicate: the second
  notification must start nothing).

It reports, per ``--workers`` value (a fresh stack each):

- accounting: every distinct video completed exactly once (a duplicate or a missing completion
  is listed), with its status;
- throughput: minutes of video per wall-clock minute, from the first upload to the last
  completion;
- latency from the upload's return to its completion: p50, p95, p99;
- time in queues vs at work, summed over stages from each document's ``queued_at``,
  ``started_at`` and ``finished_at``, and the overhead outside stage compute per video (its
  latency minus the longest chain of stage work: ingest's probe, then frames, then the keyframe
  stages, the transcript alongside);
- peak RSS of every process (``VmHWM``, sampled): each service, the emulator (LocalStack
  itself on ``--emulator localstack``) and this process.

Usage::

    nice -n 10 python bench/bench_soak.py --videos 12 --workers 1
    nice -n 10 python bench/bench_soak.py --videos 12 --workers 1 --stages frames \
        --emulator localstack
    nice -n 10 python bench/bench_soak.py                          # 100 videos, 1, 2, 4 workers
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from long_films import SEGMENT_S, make_film  # noqa: E402
from process_memory import TreeMemory  # noqa: E402
from process_stack import EMULATORS, ProcessStack  # noqa: E402

from videosense_shared.document import VideoDocument  # noqa: E402
from videosense_shared.messages import VideoCompleted  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
FRAME_EXTRACTOR = "frame-extractor"


@dataclass
class Clip:
    """One upload of the burst."""

    name: str
    path: Path
    seconds: float
    kind: str  # "video", "no audio", "bad"
    duplicate: bool = False
    video_id: str = ""
    uploaded_at: float = 0.0
    completions: list[tuple[float, VideoCompleted]] = field(default_factory=list)


def _duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(done.stdout.strip())
    except ValueError:
        return 0.0


def make_clips(count: int, size: str, where: Path, seed: int) -> list[Clip]:
    """Cut ``count`` clips from a generated film (cached), reproducibly for ``seed``."""
    # A keyframe every second: a stream copy starting on a whole second starts on a keyframe.
    film = make_film(OUT, 4, size, "2M", gop=25)
    rng = random.Random(seed)
    clips: list[Clip] = []
    for index in range(count):
        name = f"soak-{index:03d}.mp4"
        path = where / name
        if index % 12 == 11:
            path.write_bytes(rng.randbytes(rng.randint(1_000, 200_000)))
            clips.append(Clip(name, path, 0.0, "bad"))
            continue
        length = rng.randint(5, 120)
        start = rng.randint(0, 2 * SEGMENT_S - length)
        no_audio = index % 10 == 7
        subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", str(start), "-i", str(film.path),
             "-t", str(length), "-c", "copy", *(["-an"] if no_audio else []), str(path)],
            check=True,
        )  # fmt: skip
        clips.append(
            Clip(name, path, _duration(path), "no audio" if no_audio else "video", index % 10 == 3)
        )
    return clips


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


async def _upload(stack: ProcessStack, clip: Clip, stages: str) -> None:
    clip.video_id = await stack.upload(clip.path, clip.name, stages)
    clip.uploaded_at = time.monotonic()
    if clip.duplicate:
        # The same bytes to the same key again: the same video, a second notification.
        await stack.upload(clip.path, clip.name, stages)


async def _collect(
    stack: ProcessStack,
    clips: list[Clip],
    quiet_s: float,
    timeout_s: float,
    awaited: list[Clip] | None = None,
) -> None:
    """Receive completions (of any of ``clips``) until every clip of ``awaited`` (default: all)
    has one and nothing more came for ``quiet_s``."""
    by_id = {clip.video_id: clip for clip in clips if clip.video_id}
    waiting = clips if awaited is None else awaited
    deadline = time.monotonic() + timeout_s
    last = shown = time.monotonic()
    while time.monotonic() < deadline:
        for received, event in await stack.receive():
            if event.video_id in by_id:
                by_id[event.video_id].completions.append((received, event))
                last = received
        stack.check_services()
        now = time.monotonic()
        if all(c.completions for c in waiting) and now - last >= quiet_s:
            return
        if now - shown >= 30:
            done = sum(bool(c.completions) for c in clips)
            print(f"  ... {done}/{len(clips)} completed", flush=True)
            shown = now


def _stage_times(document: VideoDocument) -> tuple[float, float, float]:
    """(seconds waiting in queues, seconds at work, longest chain of work) of one video."""
    waits = works = 0.0
    work: dict[str, float] = {}
    for stage, info in document.stages.items():
        if info.queued_at and info.started_at:
            waits += max(0.0, (info.started_at - info.queued_at).total_seconds())
        if info.started_at and info.finished_at:
            seconds = max(0.0, (info.finished_at - info.started_at).total_seconds())
            works += seconds
            work[stage.value] = seconds
    keyframe_stages = max(work.get("recognition", 0.0), work.get("captions", 0.0))
    chain = max(work.get("frames", 0.0) + keyframe_stages, work.get("transcript", 0.0))
    return waits, works, chain


async def soak(
    clips: list[Clip],
    workers: int,
    stages: str,
    logs: Path,
    timeout_s: float,
    *,
    emulator: str = "moto",
    one_by_one: bool = False,
) -> None:
    """Run one burst on a fresh stack on ``emulator`` with ``workers`` frame extractors; print
    the figures.

    ``one_by_one``: upload each clip only once the one before it has completed, so nothing
    waits behind another video and the latency outside stage work is the pipeline's own
    hand-off cost (notifications, queues, the aggregator, the completion).
    """
    for clip in clips:
        clip.completions.clear()
    with TreeMemory() as memory:
        async with ProcessStack(
            emulator, logs, f"soak{workers}", replicas={FRAME_EXTRACTOR: workers}
        ) as stack:
            started = time.monotonic()
            if one_by_one:
                for clip in clips:
                    await _upload(stack, clip, stages)
                    # A short quiet spell: a duplicate's second completion would show here.
                    await _collect(stack, clips, 2.0, timeout_s, awaited=[clip])
            else:
                await asyncio.gather(*(_upload(stack, clip, stages) for clip in clips))
            uploaded = time.monotonic()
            await _collect(stack, clips, quiet_s=10.0, timeout_s=timeout_s)
            finished = max((t for c in clips for t, _ in c.completions), default=time.monotonic())
            documents = {c.video_id: await stack.read(c.video_id) for c in clips if c.completions}
    _report(
        clips, documents, workers, started, None if one_by_one else uploaded, finished,
        memory.peaks_mb, emulator,
    )  # fmt: skip


def _report(
    clips: list[Clip], documents: dict[str, VideoDocument], workers: int, started: float,
    uploaded: float | None, finished: float, peaks: dict[str, float], emulator: str,
) -> None:  # fmt: skip
    """Print the figures of one run (``uploaded`` None: the clips went one by one)."""
    once = [c for c in clips if len(c.completions) == 1]
    missing = [c.name for c in clips if not c.completions]
    doubled = [c.name for c in clips if len(c.completions) > 1]
    statuses: dict[str, int] = {}
    for clip in clips:
        for _, event in clip.completions[:1]:
            reason = f" ({event.error[:80]})" if event.error else ""
            key = f"{clip.kind}: {event.status.value}{reason}"
            statuses[key] = statuses.get(key, 0) + 1
    video_minutes = sum(c.seconds for c in clips) / 60
    wall_minutes = (finished - started) / 60
    latencies = [c.completions[0][0] - c.uploaded_at for c in once]
    good = [c for c in once if c.kind != "bad" and c.video_id in documents]
    times = [_stage_times(documents[c.video_id]) for c in good]
    overheads = [
        (c.completions[0][0] - c.uploaded_at) - chain
        for c, (_, _, chain) in zip(good, times, strict=True)
    ]
    print(f"\n== {len(clips)} uploads, {workers} frame-extractor process(es), on {emulator}")
    print(f"  accounted: {len(once)}/{len(clips)} completed exactly once; missing {missing}; "
          f"more than once {doubled}")  # fmt: skip
    print(f"  statuses: {statuses}")
    sent = (
        "uploaded one by one, each after the previous completed"
        if uploaded is None
        else f"burst uploaded in {uploaded - started:.1f} s"
    )
    print(f"  {video_minutes:.1f} min of video; {sent}; "
          f"last completion after {finished - started:.1f} s")  # fmt: skip
    print(f"  throughput: {video_minutes / wall_minutes:.2f} video-minutes per wall-minute")
    p50, p95, p99 = (_percentile(latencies, p) for p in (50, 95, 99))
    print(f"  latency upload -> completion: p50 {p50:.1f} s, p95 {p95:.1f} s, p99 {p99:.1f} s")
    if times:
        wait = sum(t[0] for t in times)
        work = sum(t[1] for t in times)
        print(f"  stage time: {wait:.0f} s waiting in queues, {work:.0f} s at work "
              f"({100 * wait / max(wait + work, 1e-9):.0f}% waiting)")  # fmt: skip
        o50, o95 = _percentile(overheads, 50), _percentile(overheads, 95)
        print(f"  overhead outside the longest chain of stage work, per video: "
              f"p50 {o50:.1f} s, p95 {o95:.1f} s")  # fmt: skip
    for label, mb in peaks.items():
        if mb >= 20:
            print(f"  peak RSS {mb:7.0f} MB  {label}")


def main() -> int:
    """Generate the clips, run the burst once per ``--workers`` value."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stages", default="frames,recognition,transcript")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds per burst")
    parser.add_argument(
        "--emulator",
        choices=EMULATORS,
        default="moto",
        help="what the services talk to: the embedded moto server or LocalStack (host mode)",
    )
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="upload each video after the previous one completed (the hand-off cost alone)",
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like an exception, so the services and the emulator are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="videosense-soak-") as tmp:
        clips = make_clips(args.videos, args.size, Path(tmp), args.seed)
        kinds = {k: sum(c.kind == k for c in clips) for k in ("video", "no audio", "bad")}
        print(f"{len(clips)} clips: {kinds}, {sum(c.duplicate for c in clips)} uploaded twice, "
              f"{sum(c.seconds for c in clips) / 60:.1f} min in all")  # fmt: skip
        for workers in args.workers:
            logs = Path(tmp) / f"logs-{workers}"
            logs.mkdir()
            asyncio.run(
                soak(
                    clips,
                    workers,
                    args.stages,
                    logs,
                    args.timeout,
                    emulator=args.emulator,
                    one_by_one=args.one_by_one,
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
