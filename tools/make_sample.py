"""Make the demo clip ``make demo`` analyses: 12 s, four shots with hard cuts at 3, 6 and 9 s, a
title card with on-screen text, a face, and speech.

Everything is generated here, nothing is downloaded or committed: the title card is drawn with
Pillow, the face is scikit-image's public-domain astronaut photo (NASA), the two other shots are
ffmpeg's test sources, and the speech is espeak-ng.

Usage: ``python tools/make_sample.py OUT.mp4``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from skimage import data

SIZE = (640, 360)
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


def _title_card(path: Path) -> Path:
    image = Image.new("RGB", SIZE, (20, 30, 90))
    font = ImageFont.load_default(size=52)
    ImageDraw.Draw(image).text((60, 150), TITLE, fill=(255, 255, 255), font=font)
    image.save(path)
    return path


def _face(path: Path) -> Path:
    # The astronaut's portrait, centred on a dark background at the clip's size.
    photo = Path(data.__file__).parent / "astronaut.png"
    portrait = Image.open(photo).convert("RGB").resize((SIZE[1], SIZE[1]))
    card = Image.new("RGB", SIZE, (10, 10, 10))
    card.paste(portrait, ((SIZE[0] - SIZE[1]) // 2, 0))
    card.save(path)
    return path


def make_sample(out: Path) -> Path:
    """Write the demo clip to ``out`` (H.264 + AAC in MP4).

    Raises:
        SystemExit: ffmpeg or espeak-ng failed (their error is the message).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="videosense-sample-") as tmp:
        work = Path(tmp)
        title = _title_card(work / "title.png")
        face = _face(work / "face.png")
        speech = work / "speech.wav"
        _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech), SPEECH])
        size = f"{SIZE[0]}x{SIZE[1]}"
        inputs = [
            *("-loop", "1", "-framerate", "25", "-t", str(SHOT_S), "-i", str(title)),
            *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={SHOT_S}"),
            *("-loop", "1", "-framerate", "25", "-t", str(SHOT_S), "-i", str(face)),
            *("-f", "lavfi", "-i", f"smptebars=size={size}:rate=25:duration={SHOT_S}"),
            *("-i", str(speech)),
        ]
        video = "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0,format=yuv420p[v]"
        # Speech from 0.5 s, padded with silence to the clip's length.
        audio = f"[4:a]adelay=500:all=1,apad,atrim=0:{4 * SHOT_S}[a]"
        _run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-y", *inputs,
                "-filter_complex", f"{video};{audio}",
                "-map", "[v]", "-map", "[a]",
                "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac",
                "-t", str(4 * SHOT_S), str(out),
            ]
        )  # fmt: skip
    return out


def main() -> None:
    """Command line: ``python tools/make_sample.py OUT.mp4``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(make_sample(args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
