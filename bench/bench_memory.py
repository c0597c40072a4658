"""Peak memory of a whole run against the film's length, and what each stage costs per minute.

Runs generated films of several lengths (``bench/long_films.py``: a two-minute segment of 13
scenes with speech in two places, repeated by stream copy) through ``--stages`` (default
``frames,recognition,transcript``), on one of two stacks (``--emulator``):

- ``embedded`` (the default): ``videosense run FILM --json --stages ...``, the pipeline in one
  process, the moto emulator in a child;
- ``localstack``: LocalStack in host mode and the services the stages need as separate
  processes with their compose environment (``bench/process_stack.py``); the film is
  uploaded in 8 MiB parts as the command line uploads, and the run ends with its
  ``VideoCompleted``.

It prints for each film:

- the peak RSS of every process of the run (``VmHWM``, sampled): the target is a peak that
  does not grow with the film (and at most 1.2 GB for a 2-hour 1080p film, for the embedded run
  and for each service process on LocalStack); LocalStack's own peak is listed too;
- every stage's time, per minute of video;
- how the keyframes spread over the film (keyframes in each tenth of it);
- the transcript at the window edges: the transcriber reads the audio in windows of
  ``VIDEOSENSE_TRANSCRIBER_WINDOW_S`` (120 s) cut at a pause in the window's last 5 s, and the
  segment's last sentence runs to the segment's end, so in a film of two-minute segments the
  window edges fall inside that sentence (each cut moves the next edge up to 5 s earlier, so
  later edges drift towards its start). Every occurrence of both sentences is checked for
  lost or doubled words (a word Whisper mishears counts as lost too: compare the two
  sentences, the early one is never near an edge).

The wall time is the whole ``videosense run`` in the embedded mode (the stack's start and the
models' loads included) and from the upload's start to the completion on LocalStack (the
services are up and their models loaded before the upload).

The document of each run is saved as ``bench/out/memory-<minutes>min-<size>.json`` (with
``-localstack`` before ``.json`` for a LocalStack run).

Usage::

    nice -n 10 python bench/bench_memory.py --minutes 2 10 30
    nice -n 10 python bench/bench_memory.py --minutes 120 --size 1920x1080 --bitrate 6M
    nice -n 10 python bench/bench_memory.py --minutes 2 --emulator localstack
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_films import (
    EARLY_AT_S,
    EARLY_SPEECH,
    LATE_SPEECH,
    SEGMENT_S,
    Film,
    make_film,
)
from process_memory import TreeMemory
from process_stack import ProcessStack, services_for

from videosense_shared.document import VideoDocument

OUT = Path(__file__).resolve().parent / "out"
EMULATORS = ("embedded", "localstack")
#: Issue 16's bound on a run's peak RSS (each service process's, on LocalStack).
TARGET_MB = 1200


def _run_embedded(film: Film, stages: str) -> tuple[VideoDocument, float, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    started = time.perf_counter()
    with (
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "videosense",
                "run",
                str(film.path),
                "--json",
                "--stages",
                stages,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc,
        TreeMemory(proc.pid) as memory,
    ):
        out, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"videosense run failed ({proc.returncode}):\n{err[-2000:]}")
    return VideoDocument.model_validate_json(out), wall, memory.peaks_mb


async def _run_services(
    film: Film, stages: str, emulator: str, logs: Path, timeout_s: float
) -> tuple[VideoDocument, float, dict[str, float]]:
    # Only the services the stages need: the others would only add their idle memory.
    services = services_for(stages)
    with TreeMemory() as memory:
        async with ProcessStack(emulator, logs, "memory", services=services) as stack:
            started = time.perf_counter()
            video_id = await stack.upload(film.path, film.path.name, stages)
            await stack.wait_completed(video_id, timeout_s)
            wall = time.perf_counter() - started
            document = await stack.read(video_id)
    return document, wall, memory.peaks_mb


# The film's voice is espeak-ng's American English and Whisper writes American spellings: the
# sentence's British "harbour" heard as "harbor" is not a lost word.
_SPELLINGS = {"harbour": "harbor"}


def _words(text: str) -> list[str]:
    return [_SPELLINGS.get(w, w) for w in re.findall(r"[a-z]+", text.lower())]


def _sentence_check(
    document: VideoDocument, sentence: str, at_s: list[float], length_s: float
) -> tuple[int, list[str], list[str]]:
    """(occurrences checked, words lost, words doubled), each word with its occurrence's time."""
    if document.transcript is None:
        return 0, [], []
    words = [(w.start_s, w.word) for seg in document.transcript.segments for w in seg.words]
    expected = _words(sentence)
    lost: list[str] = []
    doubled: list[str] = []
    for start in at_s:
        heard = [
            token
            for t, word in words
            if start - 1.0 <= t <= start + length_s + 1.0
            for token in _words(word)
        ]
        for word in dict.fromkeys(expected):
            if heard.count(word) < expected.count(word):
                lost.append(f"{word}@{start:.0f}s")
            elif heard.count(word) > expected.count(word):
                doubled.append(f"{word}@{start:.0f}s")
    return len(at_s), lost, doubled


def report(
    film: Film,
    megabytes: float,
    document: VideoDocument,
    wall: float,
    peaks: dict[str, float],
    *,
    emulator: str,
    load: tuple[float, ...],
) -> list[str]:
    """The report of one run: status and wall time, peak RSS per process (20 MB and more),
    every stage's time per minute of video, keyframes per tenth of the film and the transcript
    check at the window edges. ``load``: the load average after the run."""
    minutes = film.seconds / 60
    status, per_minute = document.status.value, wall / minutes
    lines = [
        f"\n{film.seconds // 60} min at {film.size} ({megabytes:.0f} MB) on {emulator}: status "
        f"{status}, wall {wall:.0f} s ({per_minute:.1f} s per minute)",
        # Other work on the machine stretches the times, not the memory: say how busy it was.
        "  load average after the run: " + ", ".join(f"{v:.1f}" for v in load),
    ]
    for label, mb in peaks.items():
        if mb >= 20:
            lines.append(f"  peak RSS {mb:7.0f} MB  {label}")
    if peaks:
        label, mb = max(peaks.items(), key=lambda item: item[1])
        verdict = "within" if mb <= TARGET_MB else "OVER"
        lines.append(f"  largest process {mb:.0f} MB ({label}): {verdict} {TARGET_MB} MB")
    for stage, info in document.stages.items():
        if info.started_at and info.finished_at:
            seconds = (info.finished_at - info.started_at).total_seconds()
            lines.append(f"  {stage.value:<12} {seconds:7.1f} s  {seconds / minutes:6.1f} s per "
                         f"minute  ({info.status.value})")  # fmt: skip
        else:
            lines.append(f"  {stage.value:<12} {info.status.value} {info.error or ''}")
    tenths = [0] * 10
    for kf in document.keyframes:
        tenths[min(9, int(10 * kf.t_s / film.seconds))] += 1
    lines.append(f"  scenes {len(document.scenes)}, keyframes {len(document.keyframes)}; per "
                 f"tenth of the film: {tenths}")  # fmt: skip
    if document.keyframes:
        lines.append(f"  first keyframe at {document.keyframes[0].t_s:.1f} s, last at "
                     f"{document.keyframes[-1].t_s:.1f} s of {film.seconds} s")  # fmt: skip
    segments = film.seconds // SEGMENT_S
    late_length = 14.0
    late = [(i + 1) * SEGMENT_S - late_length for i in range(segments)]
    early = [i * SEGMENT_S + EARLY_AT_S for i in range(segments)]
    for name, sentence, at, length in (
        ("early sentence (mid-window)", EARLY_SPEECH, early, 6.0),
        ("late sentence (at the window edges)", LATE_SPEECH, late, late_length),
    ):
        checked, lost, doubled = _sentence_check(document, sentence, at, length)
        lines.append(f"  transcript, {name}: {checked} occurrence(s); words lost: "
                     f"{len(lost)} {lost[:8]}; doubled: {len(doubled)} {doubled[:8]}")  # fmt: skip
    return lines


def main() -> int:
    """Generate the films (cached in ``bench/out``), run each once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[2, 10, 30])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--bitrate", default="4M", help="video bitrate of the generated film")
    parser.add_argument("--stages", default="frames,recognition,transcript")
    parser.add_argument(
        "--emulator",
        choices=EMULATORS,
        default="embedded",
        help="embedded: `videosense run` (one process); localstack: the services as processes",
    )
    parser.add_argument(
        "--timeout", type=float, default=6 * 3600.0, help="seconds per film (localstack)"
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like an exception, so the services and LocalStack are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    services_for(args.stages)  # an unknown stage fails here, before any film is made
    for minutes in args.minutes:
        started = time.perf_counter()
        film = make_film(OUT, minutes, args.size, args.bitrate)
        print(f"[{minutes} min film ready in {time.perf_counter() - started:.0f} s]", flush=True)
        name = f"memory-{minutes}min-{args.size}"
        if args.emulator == "embedded":
            document, wall, peaks = _run_embedded(film, args.stages)
        else:
            # Kept after the run: the services' logs are what explains a failure.
            logs = Path(tempfile.mkdtemp(prefix=f"videosense-{name}-"))
            print(f"[service logs in {logs}]", flush=True)
            document, wall, peaks = asyncio.run(
                _run_services(film, args.stages, args.emulator, logs, args.timeout)
            )
            name += f"-{args.emulator}"
        (OUT / f"{name}.json").write_text(document.model_dump_json())
        megabytes = film.path.stat().st_size / 1e6
        lines = report(
            film, megabytes, document, wall, peaks, emulator=args.emulator, load=os.getloadavg()
        )
        print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
