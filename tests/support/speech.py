"""Speech for the transcriber tests: flite-voiced video clips, espeak-ng audio files (any
language espeak-ng speaks) and a word-accuracy measure."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.clips import ffmpeg_binary

SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "i would like a cup of coffee",
    "the weather is nice today",
)


def make_speech_clip(
    path: Path,
    sentences: tuple[str, ...] = SENTENCES,
    *,
    lead_s: float = 0.7,
    pause_s: float = 1.2,
) -> Path:
    """A small H.264 video whose AAC audio speaks ``sentences`` with flite's ``slt`` voice.

    The speech starts after ``lead_s`` of silence and sentences are ``pause_s`` apart, so a
    speech model has utterances to split on; the video ends with the audio.

    Raises:
        RuntimeError: ffmpeg failed (e.g. built without flite).
    """
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y"]
    command += ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"]
    graph = []
    for i, text in enumerate(sentences):
        command += ["-f", "lavfi", "-i", f"flite=text='{text}':voice=slt"]
        delay = f",adelay={int(lead_s * 1000)}:all=1" if i == 0 else ""
        graph.append(f"[{i + 1}]aresample=48000{delay},apad=pad_dur={pause_s}[a{i}]")
    joined = "".join(f"[a{i}]" for i in range(len(sentences)))
    graph.append(f"{joined}concat=n={len(sentences)}:v=0:a=1[a]")
    command += ["-filter_complex", ";".join(graph), "-map", "0:v", "-map", "[a]", "-shortest"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to render {path.name}: {done.stderr.strip()}")
    return path


def word_accuracy(reference: str, hypothesis: str) -> float:
    """1 - word error rate (Levenshtein distance over words), floored at 0."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return max(0.0, 1 - previous[-1] / len(ref))


def espeak_audio(
    path: Path,
    text: str,
    *,
    voice: str = "en-us",
    lead_s: float = 0.5,
    words_per_minute: int | None = None,
) -> Path:
    """Audio of ``text`` spoken by espeak-ng's ``voice`` (e.g. ``de`` for German), after
    ``lead_s`` of silence, at espeak-ng's own pace (175 words a minute) or
    ``words_per_minute``, encoded by ffmpeg as the extension of ``path`` says (mp3, flac,
    m4a, wav): an audio-only file.

    Raises:
        RuntimeError: espeak-ng or ffmpeg failed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    spoken = path.with_name(f"{path.stem}.espeak.wav")
    pace = [] if words_per_minute is None else ["-s", str(words_per_minute)]
    done = subprocess.run(
        ["espeak-ng", "-v", voice, *pace, "-w", str(spoken), text],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"espeak-ng failed to speak {text!r}: {done.stderr.strip()}")
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y", "-i", str(spoken)]
    command += ["-af", f"adelay={int(lead_s * 1000)}:all=1", "-vn", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    spoken.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to encode {path.name}: {done.stderr.strip()}")
    return path
