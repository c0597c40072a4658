"""Long generated films for the memory and soak benchmarks, at low cost.

A film of any length is one generated *segment* (two minutes by default) repeated by stream
copy (ffmpeg's concat demuxer, no re-encode): generating a two-hour 1080p film costs encoding
two minutes of it. The segment has many scenes (ffmpeg test sources and a still photo, each shot
a few seconds, a little grain so the bitrate is a real camera's rather than a slide show's) and
speech in places (espeak-ng): a sentence early in the segment and one running to its very end,
so with the transcriber's 600 s windows every window edge of a film made of two-minute segments
falls inside speech, the hardest place to cut.

Everything is generated here; nothing is downloaded or committed.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SHOTS = (
    ("testsrc2", 7),
    ("smptebars", 9),
    ("mandelbrot", 8),
    ("photo", 11),
    ("life", 6),
    ("rgbtestsrc", 10),
    ("testsrc", 8),
    ("photo", 9),
    ("mandelbrot", 12),
    ("smptehdbars", 7),
    ("testsrc2", 13),
    ("life", 8),
    ("rgbtestsrc", 12),
)
"""The segment's shots (source, seconds): 13 scenes in 120 s."""

SEGMENT_S = sum(seconds for _, seconds in SHOTS)

EARLY_SPEECH = "the orange submarine waited quietly beside the northern harbour wall"
LATE_SPEECH = (
    "seven engineers carried heavy copper cables across the frozen river while "
    "their captain counted every wooden crate twice before sunset"
)
LATE_SPEECH_S = 14.0
"""Where speech sits in a segment: ``EARLY_SPEECH`` from 20 s, ``LATE_SPEECH`` spoken slowly
enough to fill the last ``LATE_SPEECH_S`` seconds, up to the segment's end."""

EARLY_AT_S = 20.0


@dataclass(frozen=True)
class Film:
    """A generated film: ``path``, its length and size."""

    path: Path
    seconds: int
    size: str


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def _photo(path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image
    from skimage import data

    # scikit-image's public-domain astronaut photo (NASA), centred on a dark card.
    portrait = Image.open(Path(data.__file__).parent / "astronaut.png").convert("RGB")
    portrait = portrait.resize((size[1], size[1]))
    card = Image.new("RGB", size, (10, 10, 10))
    card.paste(portrait, ((size[0] - size[1]) // 2, 0))
    card.save(path)
    return path


def _speech(work: Path) -> tuple[Path, Path]:
    early, late = work / "early.wav", work / "late.wav"
    _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(early), EARLY_SPEECH])
    _run(["espeak-ng", "-v", "en-us", "-s", "110", "-w", str(late), LATE_SPEECH])
    return early, late


def _duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def make_segment(out: Path, size: str, bitrate: str, gop: int = 250) -> Path:
    """Write one ``SEGMENT_S`` segment at ``size`` (``WxH``) and about ``bitrate`` to ``out``,
    with a keyframe every ``gop`` frames (and only there: x264's scene-cut keyframes are off).

    Raises:
        SystemExit: ffmpeg or espeak-ng failed.
    """
    width, _, height = size.partition("x")
    dims = (int(width), int(height))
    with tempfile.TemporaryDirectory(prefix="videosense-film-") as tmp:
        work = Path(tmp)
        photo = _photo(work / "photo.png", dims)
        early, late = _speech(work)
        late_at = SEGMENT_S - max(_duration(late), 1.0) - 0.3
        inputs: list[str] = []
        for source, seconds in SHOTS:
            if source == "photo":
                inputs += ["-loop", "1", "-framerate", "25", "-t", str(seconds), "-i", str(photo)]
            else:
                lavfi = f"{source}=size={size}:rate=25"
                inputs += ["-f", "lavfi", "-t", str(seconds), "-i", lavfi]
        count = len(SHOTS)
        inputs += ["-i", str(early), "-i", str(late)]
        streams = "".join(f"[{i}:v]" for i in range(count))
        # A little temporal grain: every frame differs, as a camera's do, so the bitrate (and
        # the upload, download and probe it costs) is a real film's.
        video = f"{streams}concat=n={count}:v=1:a=0,format=yuv420p,noise=alls=6:allf=t[v]"
        audio = (
            f"[{count}:a]adelay={int(EARLY_AT_S * 1000)}:all=1[e];"
            f"[{count + 1}:a]adelay={int(late_at * 1000)}:all=1[l];"
            f"[e][l]amix=inputs=2:normalize=0,apad,atrim=0:{SEGMENT_S},aresample=48000[a]"
        )
        _run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-y", *inputs,
                "-filter_complex", f"{video};{audio}",
                "-map", "[v]", "-map", "[a]",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop),
                "-keyint_min", str(gop), "-sc_threshold", "0",
                "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
                "-c:a", "aac", "-b:a", "96k", "-t", str(SEGMENT_S), str(out),
            ]
        )  # fmt: skip
    return out


def make_film(out_dir: Path, minutes: int, size: str, bitrate: str, gop: int = 250) -> Film:
    """A film of ``minutes`` (a multiple of the segment's two minutes) at ``size``, cached in
    ``out_dir`` (``gop``: frames between keyframes; 25 lets clips be cut on any second).

    Raises:
        SystemExit: generation failed, or ``minutes`` is not a multiple of two.
    """
    seconds = minutes * 60
    if seconds <= 0 or seconds % SEGMENT_S:
        raise SystemExit(f"a film's length must be a multiple of {SEGMENT_S // 60} minutes")
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{size}-{bitrate}" + ("" if gop == 250 else f"-g{gop}")
    film = out_dir / f"film-{tag}-{minutes}min-v1.mp4"
    if film.exists():
        return Film(film, seconds, size)
    segment = out_dir / f"film-{tag}-segment-v1.mp4"
    if not segment.exists():
        make_segment(segment.with_suffix(".part.mp4"), size, bitrate, gop).rename(segment)
    if seconds == SEGMENT_S:
        return Film(segment, seconds, size)
    listing = out_dir / f"film-{tag}-{minutes}min.txt"
    listing.write_text(f"file '{segment.name}'\n" * (seconds // SEGMENT_S))
    part = film.with_suffix(".part.mp4")
    _run(
        [
            "ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0",
            "-i", str(listing), "-c", "copy", str(part),
        ]
    )  # fmt: skip
    listing.unlink()
    part.rename(film)
    return Film(film, seconds, size)
