"""Benchmark the transcriber's accuracy and cost: word error rate on real recorded speech.

Reads other projects' test recordings from ``--media`` (never copied into this repository; the
default is ``../shared/media`` from the repository root) and scores the transcriber's default
configuration on them, through the stage's own path: ``transcriber.audio.extract_audio`` (16 kHz
mono WAV) then the ``whisper`` backend's ``recognize``, exactly as the service runs it.

Scored clips and their truth:

- ``speech/fasterwhisper_jfk.flac`` (JFK's inaugural address, 11 s): the reference sentence of
  faster-whisper's and Whisper's own tests (``MANIFEST.json``). Target: WER <= 5%.
- ``speech/pocketsphinx_librivox_*.wav`` (five LibriVox utterances of *Sense and
  Sensibility*): pocketsphinx's human transcripts (``truth/pocketsphinx/*.txt``). Target: WER
  <= 15% over the five together.

Both texts are normalised before counting: lowercase, punctuation dropped (an apostrophe inside
a word kept), hyphens split words, and the titles Whisper abbreviates spelled out as the
transcripts spell them (``Mr.`` -> ``mister``). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from transcriber.audio import ExtractedAudio, extract_audio
from transcriber.settings import TranscriberSettings
from transcriber.whisper import WhisperSpeechModel

ROOT = Path(__file__).resolve().parents[1]
JFK = "speech/fasterwhisper_jfk.flac"
LIBRIVOX_PREFIX = "speech/pocketsphinx_librivox_"
JFK_MAX_WER = 0.05
LIBRIVOX_MAX_WER = 0.15

# Whisper writes these titles abbreviated; the human transcripts spell them out.
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


@dataclass(frozen=True)
class Clip:
    """A recording and its reference text."""

    name: str
    path: Path
    reference: str
    group: str


@dataclass(frozen=True)
class Score:
    """One clip's result."""

    clip: Clip
    hypothesis: str
    errors: int
    words: int
    audio_s: float
    seconds: float

    @property
    def wer(self) -> float:
        return self.errors / self.words


def normalise(text: str) -> list[str]:
    """Words for scoring: lowercase, no punctuation, titles spelled out."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return [_TITLES.get(w, w) for w in words if w]


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions (Levenshtein distance over words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def clips(media: Path) -> list[Clip]:
    """The scored clips present under ``media``, with their truth."""
    manifest = json.loads((media / "MANIFEST.json").read_text())
    found: list[Clip] = []
    for item in manifest["items"]:
        path = str(item["path"])
        if path == JFK:
            reference = str(item["truth"]["reference_text"])
            found.append(Clip("jfk", media / path, reference, "jfk"))
        elif path.startswith(LIBRIVOX_PREFIX) and path.endswith(".wav"):
            stem = Path(path).stem.removeprefix(Path(LIBRIVOX_PREFIX).name)
            truth = media / "truth" / "pocketsphinx" / f"{stem}.txt"
            found.append(Clip(stem[-4:], media / path, truth.read_text().strip(), "librivox"))
    return sorted(found, key=lambda c: (c.group != "jfk", c.name))


def transcribe(model: WhisperSpeechModel, clip: Clip, scratch: Path) -> Score:
    """Run the stage's path on one clip and score it."""
    started = time.perf_counter()
    audio = extract_audio(clip.path, scratch / f"{clip.name}.wav")
    transcript = model.recognize(audio)
    seconds = time.perf_counter() - started
    reference = normalise(clip.reference)
    hypothesis = normalise(transcript.text)
    return Score(
        clip=clip,
        hypothesis=transcript.text,
        errors=word_errors(reference, hypothesis),
        words=len(reference),
        audio_s=audio.duration_s or 0.0,
        seconds=seconds,
    )


def transcribe_joined(model: WhisperSpeechModel, wavs: list[Path], scratch: Path) -> float:
    """Seconds to transcribe the extracted clips joined into one recording (1 s apart).

    Whisper encodes 30 s windows whatever the speech in them, so a 3 s clip costs about what
    30 s do: the joined recording is the realistic cost of a minute of speech.
    """
    joined = scratch / "joined.wav"
    with wave.open(str(joined), "wb") as out:
        for index, path in enumerate(wavs):
            with wave.open(str(path), "rb") as part:
                if index == 0:
                    out.setparams(part.getparams())
                else:
                    out.writeframes(bytes(2 * part.getframerate()))  # 1 s of silence
                out.writeframes(part.readframes(part.getnframes()))
    audio = ExtractedAudio(path=joined, duration_s=_wav_seconds(joined))
    started = time.perf_counter()
    model.recognize(audio)
    return time.perf_counter() - started


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--media",
        type=Path,
        default=ROOT.parent / "shared" / "media",
        help="directory holding speech/, truth/ and MANIFEST.json "
        "(default ../shared/media from the repo root)",
    )
    parser.add_argument(
        "--model",
        default="",
        help="VIDEOSENSE_TRANSCRIBER_MODEL to measure (default: the transcriber's default, "
        "the packaged Whisper base)",
    )
    args = parser.parse_args()
    media: Path = args.media
    if not (media / "MANIFEST.json").is_file():
        print(f"speech benchmark skipped: {media} has no MANIFEST.json (pass --media DIR)")
        return 0
    suite = clips(media)
    if not suite:
        print(f"speech benchmark skipped: no scored speech clip under {media}")
        return 0

    settings = TranscriberSettings(model=args.model)
    model = WhisperSpeechModel(
        settings.whisper_model,
        language=settings.language,
        compute_type=settings.whisper_compute_type,
        cpu_threads=settings.whisper_cpu_threads,
        beam_size=settings.whisper_beam_size,
        vad=settings.whisper_vad,
        temperature_fallback=settings.whisper_temperature_fallback,
        loop_ratio=settings.whisper_loop_ratio,
        window_s=settings.window_s,
    )
    started = time.perf_counter()
    model.load()
    load_s = time.perf_counter() - started
    print(
        f"model {settings.whisper_model} (whisper, {settings.whisper_compute_type}, "
        f"beam {settings.whisper_beam_size}, language {settings.language}): "
        f"loaded in {load_s:.1f} s"
    )

    scores: list[Score] = []
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        for clip in suite:
            score = transcribe(model, clip, Path(tmp))
            scores.append(score)
            print(
                f"{clip.group:<9} {clip.name:<5} {score.audio_s:5.1f} s audio  "
                f"WER {score.wer:6.1%} ({score.errors}/{score.words})  {score.seconds:5.1f} s"
            )
            print(f"    truth: {clip.reference}")
            print(f"    heard: {score.hypothesis}")
        wavs = [Path(tmp) / f"{clip.name}.wav" for clip in suite]
        joined_s = transcribe_joined(model, wavs, Path(tmp))
        joined_audio_s = sum(_wav_seconds(w) for w in wavs) + len(wavs) - 1

    print()
    verdicts: list[bool] = []
    for group, limit in (("jfk", JFK_MAX_WER), ("librivox", LIBRIVOX_MAX_WER)):
        part = [s for s in scores if s.clip.group == group]
        if not part:
            print(f"{group}: no clip found")
            continue
        errors, words = sum(s.errors for s in part), sum(s.words for s in part)
        wer = errors / words
        ok = wer <= limit
        verdicts.append(ok)
        print(
            f"{group:<9} total WER {wer:6.1%} ({errors}/{words} words, {len(part)} clip(s)); "
            f"target <= {limit:.0%}: {'PASS' if ok else 'FAIL'}"
        )
    audio_min = sum(s.audio_s for s in scores) / 60
    busy = sum(s.seconds for s in scores)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"cost, clip by clip: {busy:.1f} s for {audio_min * 60:.1f} s of audio = "
        f"{busy / audio_min:.1f} s per minute of audio (each clip padded to a 30 s window)"
    )
    print(
        f"cost, joined into one {joined_audio_s:.1f} s recording: {joined_s:.1f} s = "
        f"{joined_s / (joined_audio_s / 60):.1f} s per minute of audio"
    )
    print(f"model load {load_s:.1f} s (not counted above); peak RSS {peak_mb:.0f} MB")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
