"""Clips with faces at known places on every frame: real face photos composited onto moving
backgrounds, for the redactor's tests and its benchmark.

Two public-domain portraits ship inside installed packages: the astronaut Eileen Collins
(scikit-image's ``astronaut.png``, a NASA photo) and the computer scientist Grace Hopper
(matplotlib's ``grace_hopper.jpg``, a US Navy photo). Each :class:`Person` is a head-and-shoulders
crop with its face rectangle (forehead to chin, cheek to cheek) set by hand on the photo: the
ground truth a redaction must cover. Frames are piped to ffmpeg as raw BGR and encoded with
libx264 (and, when asked, a 440 Hz AAC tone), so the clip's frames are exactly the ones drawn
here, up to compression. Nothing here is imported by production code.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from tests.support.clips import ffmpeg_binary
from tests.support.pictures import astronaut

Bgr = npt.NDArray[np.uint8]
#: left, top, right, bottom in pixels (right/bottom exclusive)
Rect = tuple[int, int, int, int]


@dataclass(frozen=True)
class Person:
    """A head-and-shoulders photo and the face rectangle inside it."""

    name: str
    photo: Bgr
    face: Rect

    def scaled(self, factor: float) -> Person:
        """The same person ``factor`` times larger."""
        h, w = self.photo.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        photo = np.asarray(cv2.resize(self.photo, size, interpolation=cv2.INTER_AREA), np.uint8)
        x0, y0, x1, y1 = self.face
        face = (round(x0 * factor), round(y0 * factor), round(x1 * factor), round(y1 * factor))
        return Person(self.name, photo, face)


def eileen() -> Person:
    """Eileen Collins (the astronaut), a 250x260 crop; face about 122x120."""
    crop = astronaut()[10:270, 100:350]
    return Person("eileen", np.ascontiguousarray(crop), (160 - 100, 62 - 10, 282 - 100, 182 - 10))


def grace() -> Person:
    """Grace Hopper, scaled so that her face is about Eileen's size."""
    import matplotlib.cbook  # only the tests and the benchmark need it

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert photo is not None, "matplotlib's grace_hopper.jpg is missing"
    crop = np.ascontiguousarray(np.asarray(photo, np.uint8)[60:420, 110:420])
    person = Person("grace", crop, (152 - 110, 128 - 60, 376 - 110, 345 - 60))
    return person.scaled(0.55)


@dataclass(frozen=True)
class Placement:
    """A person drawn with the photo's top-left corner at ``(x, y)`` (may be off-frame)."""

    person: Person
    x: int
    y: int


def paste(frame: Bgr, placement: Placement) -> Rect | None:
    """Draw the person on ``frame`` in place; return the visible part of the face rectangle."""
    h, w = frame.shape[:2]
    photo = placement.person.photo
    ph, pw = photo.shape[:2]
    x, y = placement.x, placement.y
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + pw), min(h, y + ph)
    if x1 <= x0 or y1 <= y0:
        return None
    frame[y0:y1, x0:x1] = photo[y0 - y : y1 - y, x0 - x : x1 - x]
    fx0, fy0, fx1, fy1 = placement.person.face
    face = (max(0, x + fx0), max(0, y + fy0), min(w, x + fx1), min(h, y + fy1))
    if face[2] <= face[0] or face[3] <= face[1]:
        return None
    return face


_DRIFT = 400  # frames of steady drift before the pattern starts over (a jump)


def background(size: tuple[int, int], index: int, seed: int = 0) -> Bgr:
    """A textured background that drifts one pixel per frame (no face in it)."""
    w, h = size
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (h // 16 + 2, (w + _DRIFT) // 16 + 2, 3), dtype=np.uint8)
    big = cv2.resize(base, (w + _DRIFT, h), interpolation=cv2.INTER_CUBIC)
    shift = index % _DRIFT
    return np.ascontiguousarray(big[:, shift : shift + w])


Scene = Callable[[int], tuple[Bgr, list[tuple[str, Rect]]]]
"""Draws frame ``i``: the picture and the (name, face rectangle) of every visible face."""


def write_clip(
    path: Path,
    frames: Iterable[Bgr],
    size: tuple[int, int],
    *,
    fps: int = 25,
    audio_s: float | None = None,
    preset: str = "veryfast",
) -> Path:
    """Encode BGR frames (all ``size``) as H.264 MP4, with a tone of ``audio_s`` seconds.

    Raises:
        RuntimeError: ffmpeg failed.
    """
    w, h = size
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-y"]
    command += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", str(fps)]
    command += ["-i", "-"]
    if audio_s is not None:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={audio_s}"]
        command += ["-c:a", "aac", "-b:a", "96k"]
    command += ["-c:v", "libx264", "-preset", preset, "-crf", "18", "-pix_fmt", "yuv420p"]
    command += [str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    for frame in frames:
        process.stdin.write(np.ascontiguousarray(frame).tobytes())
    process.stdin.close()
    error = process.stderr.read().decode() if process.stderr is not None else ""
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed: {error}")
    return path


def two_people(
    path: Path, *, seconds: float = 3.0, size: tuple[int, int] = (640, 360), audio: bool = True
) -> tuple[Path, list[dict[str, Rect]]]:
    """Eileen on the left and Grace on the right, both drifting slowly; returns the clip and
    each frame's face rectangle per name."""
    people = (eileen(), grace())
    count = round(seconds * 25)
    truth: list[dict[str, Rect]] = []

    def frames() -> Iterable[Bgr]:
        for i in range(count):
            frame = background(size, i)
            faces: dict[str, Rect] = {}
            for k, person in enumerate(people):
                x = 40 + k * 320 + round(20 * np.sin(i / 15 + k))
                rect = paste(frame, Placement(person, x, 40 + k * 10))
                if rect is not None:
                    faces[person.name] = rect
            truth.append(faces)
            yield frame

    write_clip(path, frames(), size, audio_s=seconds if audio else None)
    return path, truth


def gallery(root: Path, people: Sequence[Person]) -> Path:
    """A face gallery with one photo per person: a different framing and scale than the clip's
    (the whole portrait, enlarged), so matches are not pixel copies."""
    for person in people:
        folder = root / person.name
        folder.mkdir(parents=True, exist_ok=True)
        photo = cv2.resize(person.photo, None, fx=1.3, fy=1.3, interpolation=cv2.INTER_CUBIC)
        assert cv2.imwrite(str(folder / "photo.png"), photo)
    return root


def region_change(source: Bgr, redacted: Bgr, rect: Rect) -> float:
    """Mean absolute difference of the two pictures inside ``rect`` (0-255)."""
    x0, y0, x1, y1 = rect
    a = source[y0:y1, x0:x1].astype(np.int16)
    b = redacted[y0:y1, x0:x1].astype(np.int16)
    return float(np.abs(a - b).mean())
