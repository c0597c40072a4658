"""Peak memory of a whole run against the film's length, and what each stage costs per minute.

Runs ``videosense run FILM --json --stages frames,recognition,transcript`` (the embedded stack:
the pipeline in one process, the emulator in a child) on generated films of several lengths
(``bench/long_films.py``: a two-minute segment of 13 scenes with speech in two places, repeated
by stream copy) and prints for each:

- the peak RSS of every process of the run (``VmHWM``, sampled): the target is a peak that
  does not grow with the film (and at most 1.2 GB for a 2-hour 1080p film);
- every stage's time, per minute of video;
- how the keyframes spread over the film (keyframes in each tenth of it);
- the transcript at the window edges: the transcriber reads the audio in windows of
  ``VIDEOSENSE_TRANSCRIBER_WINDOW_S`` (120 s) cut at a pause in the window's last 5 s, and the
  segment's last sentence runs to the segment's end, so in a film of two-minute segments the
  window edges fall inside that sentence (each cut moves the next edge up to 5 s earlier, so
  later edges drift towards its start). Every occurrence of both sentences is checked for
  lost or doubled words (a word Whisper mishears counts as lost too: compare the two
  sentences, the early one is never near an edge).

The document of each run is saved as ``bench/out/memory-<minutes>min-<size>.json``.

Usage::

    nice -n 10 python bench/bench_memory.py --minutes 2 10 30
    nice -n 10 python bench/bench_memory.py --minutes 120 --size 1920x1080 --bitrate 6M
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
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

from videosense_shared.document import VideoDocument

OUT = Path(__file__).resolve().parent / "out"


def _run(film: Film, stages: str) -> tuple[VideoDocument, float, dict[str, float]]:
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


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


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


def _report(film: Film, document: VideoDocument, wall: float, peaks: dict[str, float]) -> None:
    minutes = film.seconds / 60
    megabytes = film.path.stat().st_size / 1e6
    status, per_minute = document.status.value, wall / minutes
    print(f"\n{film.seconds // 60} min at {film.size} ({megabytes:.0f} MB): status {status}, "
          f"wall {wall:.0f} s ({per_minute:.1f} s per minute)")  # fmt: skip
    # Other work on the machine stretches the times, not the memory: say how busy it was.
    print("  load average after the run: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    for label, mb in peaks.items():
        if mb >= 20:
            print(f"  peak RSS {mb:7.0f} MB  {label}")
    for stage, info in document.stages.items():
        if info.started_at and info.finished_at:
            seconds = (info.finished_at - info.started_at).total_seconds()
            print(f"  {stage.value:<12} {seconds:7.1f} s  {seconds / minutes:6.1f} s per minute"
                  f"  ({info.status.value})")  # fmt: skip
        else:
            print(f"  {stage.value:<12} {info.status.value} {info.error or ''}")
    tenths = [0] * 10
    for kf in document.keyframes:
        tenths[min(9, int(10 * kf.t_s / film.seconds))] += 1
    print(f"  scenes {len(document.scenes)}, keyframes {len(document.keyframes)}; per tenth of "
          f"the film: {tenths}")  # fmt: skip
    if document.keyframes:
        print(f"  first keyframe at {document.keyframes[0].t_s:.1f} s, last at "
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
        print(f"  transcript, {name}: {checked} occurrence(s); words lost: "
              f"{len(lost)} {lost[:8]}; doubled: {len(doubled)} {doubled[:8]}")  # fmt: skip


def main() -> int:
    """Generate the films (cached in ``bench/out``), run each once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, nargs="+", default=[2, 10, 30])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--bitrate", default="4M", help="video bitrate of the generated film")
    parser.add_argument("--stages", default="frames,recognition,transcript")
    args = parser.parse_args()
    for minutes in args.minutes:
        started = time.perf_counter()
        film = make_film(OUT, minutes, args.size, args.bitrate)
        print(f"[{minutes} min film ready in {time.perf_counter() - started:.0f} s]", flush=True)
        document, wall, peaks = _run(film, args.stages)
        (OUT / f"memory-{minutes}min-{args.size}.json").write_text(document.model_dump_json())
        _report(film, document, wall, peaks)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
