"""PySceneDetect's detectors behind our :class:`~frame_extractor.detection.CutDetector` protocol.

The frame stage defaults to its own detector (see :mod:`frame_extractor.detection`), which is
faster and finds hue-only changes and gradual transitions. This adapter exists for comparison
(``bench/bench_frames.py`` prints both) and for users who want PySceneDetect's behaviour. It
stays in the one decode pass: PySceneDetect's ``process_frame`` is fed small BGR images built
from the thumbnails we already have, never a second decode of the file.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from scenedetect.common import FrameTimecode
from scenedetect.detectors import AdaptiveDetector, ContentDetector

from frame_extractor.thumbnails import Plane, Thumb

Kind = Literal["adaptive", "content"]

# PySceneDetect's detectors have no test of their own for flashes or for a frame that is only a
# step of a fast change: with a shorter minimum scene they report such frames as one-frame
# scenes. Our detector may go down to one frame (it tells those apart); theirs never below this.
_LEAST_SCENE_FRAMES = 3


class PySceneDetectCutDetector:
    """Feeds PySceneDetect's ``AdaptiveDetector`` or ``ContentDetector``, one frame at a time.

    Args:
        fps: frame rate of the video (PySceneDetect counts in timecodes).
        kind: ``adaptive`` (rolling-average ratio, PySceneDetect's choice for fast motion) or
            ``content`` (fixed threshold on the HSV difference).
        min_scene_frames: PySceneDetect's ``min_scene_len`` (at least 3, see
            ``_LEAST_SCENE_FRAMES``).

    Raises:
        ValueError: ``fps`` not positive or ``min_scene_frames`` below 1.
    """

    def __init__(self, *, fps: float, kind: Kind = "adaptive", min_scene_frames: int = 15) -> None:
        if fps <= 0 or min_scene_frames < 1:
            raise ValueError("need fps > 0 and min_scene_frames >= 1")
        self._fps = float(fps)  # PySceneDetect refuses an int rate
        self._detector: AdaptiveDetector | ContentDetector
        least = max(min_scene_frames, _LEAST_SCENE_FRAMES)
        if kind == "adaptive":
            self._detector = AdaptiveDetector(min_scene_len=least)
        else:
            self._detector = ContentDetector(min_scene_len=least)
        # How far behind the newest frame PySceneDetect may still report a cut.
        self._delay = int(self._detector.event_buffer_length)
        self._count = 0
        self._pending: list[int] = []
        self._final = 0  # every frame up to this one was decided (cuts reported)

    @property
    def delay(self) -> int:
        """Frames after which PySceneDetect's decision on a frame is final."""
        return self._delay

    def push(self, thumb: Thumb) -> list[int]:
        """Take the next frame's thumbnail; return the cuts PySceneDetect reported by now."""
        timecode = FrameTimecode(self._count, fps=self._fps)
        self._count += 1
        found = self._detector.process_frame(timecode, bgr(thumb))
        return self._report(found, up_to=self._count - 1 - self._delay)

    def flush(self) -> list[int]:
        """No more frames: the cuts PySceneDetect still holds."""
        last = FrameTimecode(max(0, self._count - 1), fps=self._fps)
        return self._report(self._detector.post_process(last), up_to=self._count)

    def _report(self, found: list[FrameTimecode], *, up_to: int) -> list[int]:
        # Cuts may arrive out of step with our protocol's delay: hold them until they are due,
        # so the caller sees every cut at or before frame `i - delay` once `i` was pushed. A
        # cut reported later than the announced delay (not seen with PySceneDetect 0.7) lands
        # on the first frame still open rather than being lost.
        self._pending.extend(max(t.frame_num, self._final + 1) for t in found if t.frame_num > 0)
        due = sorted({c for c in self._pending if c <= up_to})
        self._pending = [c for c in self._pending if c > up_to]
        self._final = max(self._final, up_to)
        return due


def bgr(thumb: Thumb) -> npt.NDArray[np.uint8]:
    """The thumbnail as a small 8-bit BGR image (chroma brought to the luma plane's size)."""
    height, width = thumb.y.shape
    y = thumb.y.astype(np.uint8)
    cb = _fit(thumb.u, width, height)
    cr = _fit(thumb.v, width, height)
    # OpenCV orders the channels Y, Cr, Cb.
    ycrcb = np.dstack((y, cr, cb))
    return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR), dtype=np.uint8)


def _fit(plane: Plane | None, width: int, height: int) -> npt.NDArray[np.uint8]:
    if plane is None:
        return np.full((height, width), 128, np.uint8)
    small = plane.astype(np.uint8)
    if small.shape == (height, width):
        return small
    resized = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.asarray(resized, dtype=np.uint8)
