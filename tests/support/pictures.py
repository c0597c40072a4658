"""Pictures with known content for the recognizer tests: a real face photo, rendered text and
title-card clips."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from recognizer.images import Bgr, encode_jpeg
from tests.support.clips import ffmpeg_binary

SKIMAGE_DATA = Path(data.__file__).parent
CARD_SIZE = (640, 360)


def astronaut() -> Bgr:
    """The astronaut Eileen Collins, 512x512, her face around (177, 67)-(270, 160)."""
    # The PNG ships inside scikit-image (no download); read it as BGR directly.
    image = cv2.imread(str(SKIMAGE_DATA / "astronaut.png"), cv2.IMREAD_COLOR)
    assert image is not None, "scikit-image's astronaut.png is missing"
    return np.asarray(image, np.uint8)


def pil_text(text: str, size: tuple[int, int] = (640, 360)) -> Bgr:
    """White TrueType text on a dark blue frame (like a title card), top-left at (40, 150)."""
    image = Image.new("RGB", size, (20, 30, 90))
    ImageDraw.Draw(image).text(
        (40, 150), text, fill=(255, 255, 255), font=ImageFont.load_default(size=44)
    )
    return np.asarray(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR), np.uint8)


def astronaut_keyframe() -> bytes:
    # The astronaut as a keyframe: rescaled and re-encoded, so not the gallery's pixels.
    return encode_jpeg(np.asarray(cv2.resize(astronaut(), (400, 400)), np.uint8), 80)


def concat_cards(out: Path, *cards: tuple[Path, float]) -> Path:
    """An H.264 clip at 25 fps showing each still image for its number of seconds."""
    inputs = [
        arg
        for card, seconds in cards
        for arg in ("-loop", "1", "-framerate", "25", "-t", str(seconds), "-i", str(card))
    ]
    streams = "".join(f"[{i}:v]" for i in range(len(cards)))
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y", *inputs,
            "-filter_complex", f"{streams}concat=n={len(cards)}:v=1:a=0,format=yuv420p[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(out),
        ],
        check=True,
    )  # fmt: skip
    return out


def two_cards_clip(folder: Path) -> Path:
    """2 s of a "Mission briefing" card, then 2 s of a "Weather report" card."""
    first, second = folder / "first.png", folder / "second.png"
    cv2.imwrite(str(first), pil_text("Mission briefing", CARD_SIZE))
    # Inverted (dark text on a light card) so that the cut is a scene change.
    cv2.imwrite(str(second), 255 - pil_text("Weather report", CARD_SIZE))
    return concat_cards(folder / "two cards.mp4", (first, 2), (second, 2))
