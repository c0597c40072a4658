"""Make the demo clip ``make demo`` analyses: by default 12 s at 640x360, four shots with hard
cuts every 3 s (a title card with on-screen text, a test pattern, a face, colour bars) and
speech over them; longer clips repeat the four shots (``--seconds``, ``--size``), as
``bench/bench_stages.py`` does for its 1-minute 720p clip.

Everything is generated here, nothing is downloaded or committed: the title card is drawn with
Pillow, the face is scikit-image's public-domain astronaut photo (NASA), the two other shots are
ffmpeg's test sources, and the speech is espeak-ng (repeated to fill the clip).

Usage: ``python tools/make_sample.py OUT.mp4 [--seconds 12] [--size 640x360]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from skimage import data

SHOT_S = 3
SPEECH = (
    "Welcome to the video sense demo. This clip has four shots, a title card and a face. "
    "Every word you hear should appear in the transcript."
)
TITLE = "Mission briefing"


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr.strip()}")


def _title_card(path: Path, size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size, (20, 30, 90))
    font = ImageFont.load_default(size=size[1] // 7)
    ImageDraw.Draw(image).text((size[0] // 10, size[1] * 2 // 5), TITLE, fill="white", font=font)
    image.save(path)
    return path


def _face(path: Path, size: tuple[int, int]) -> Path:
    # The astronaut's portrait, centred on a dark background at the clip's size.
    photo = Path(data.__file__).parent / "astronaut.png"
    portrait = Image.open(photo).convert("RGB").resize((size[1], size[1]))
    card = Image.new("RGB", size, (10, 10, 10))
    card.paste(portrait, ((size[0] - size[1]) // 2, 0))
    card.save(path)
    return path


def make_sample(out: Path, seconds: int = 12, size: tuple[int, int] = (640, 360)) -> Path:
    """Write the demo clip to ``out`` (H.264 + AAC in MP4): ``seconds`` long (a multiple of
    3 s), the four shots repeated in turn, speech from 0.5 s.

    Raises:
        SystemExit: ffmpeg or espeak-ng failed (their error is the message), or ``seconds`` is
            not a positive multiple of the shot length.
    """
    if seconds <= 0 or seconds % SHOT_S:
        raise SystemExit(f"--seconds must be a positive multiple of {SHOT_S}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videosense-sample-") as tmp:
        work = Path(tmp)
        title = _title_card(work / "title.png", size)
        face = _face(work / "face.png", size)
        speech = work / "speech.wav"
        _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech), SPEECH])
        dims = f"{size[0]}x{size[1]}"
        still = ("-loop", "1", "-framerate", "25", "-t", str(SHOT_S), "-i")
        shots = [
            [*still, str(title)],
            ["-f", "lavfi", "-i", f"testsrc2=size={dims}:rate=25:duration={SHOT_S}"],
            [*still, str(face)],
            ["-f", "lavfi", "-i", f"smptebars=size={dims}:rate=25:duration={SHOT_S}"],
        ]
        count = seconds // SHOT_S
        inputs = [arg for i in range(count) for arg in shots[i % len(shots)]]
        # The ~10 s of speech once per 12 s of clip: the demo says it once, a minute five times.
        inputs += ["-stream_loop", str(seconds // 12 - 1), "-i", str(speech)]
        streams = "".join(f"[{i}:v]" for i in range(count))
        video = f"{streams}concat=n={count}:v=1:a=0,format=yuv420p[v]"
        # Speech from 0.5 s, then silence to the clip's length.
        audio = f"[{count}:a]adelay=500:all=1,apad,atrim=0:{seconds}[a]"
        _run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-y", *inputs,
                "-filter_complex", f"{video};{audio}",
                "-map", "[v]", "-map", "[a]",
                "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac",
                "-t", str(seconds), str(out),
            ]
        )  # fmt: skip
    return out


def main() -> None:
    """Command line: ``python tools/make_sample.py OUT.mp4``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=int, default=12, help="length, a multiple of 3")
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    print(make_sample(args.out, args.seconds, (int(width), int(height))), file=sys.stderr)


if __name__ == "__main__":
    main()
