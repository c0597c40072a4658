"""Scene-cut detection on the small planes of frames fed from our own decode loop.

Why not hand the file to PySceneDetect: it opens and decodes the video itself, so we would pay
for a second decode pass (the frame stage is bound by decoding) and it converts every frame to
HSV. Its content detectors' idea is kept - compare consecutive frames' colour content, and (as
its ``AdaptiveDetector`` does) require the change to stand out from the changes around it - but
computed on Y/Cb/Cr planes the decoder already produced (see :mod:`frame_extractor.thumbnails`).

Chroma is compared directly, so a change of hue between flat colours (which HSV-mean detectors
with the default threshold miss: red to green moves hue by 60 of 180 units, a score of 20 < 27)
is a large Cb/Cr change here.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Protocol

from frame_extractor.thumbnails import Thumb


class CutDetector(Protocol):
    """Finds the frames that start a new scene, one frame at a time.

    ``push`` is called once per decoded frame in presentation order. A detector may look ahead:
    after frame ``i`` was pushed, every cut at a frame ``<= i - delay`` has been reported (by
    this or an earlier call); ``flush`` reports the rest at the end of the video. Frame 0 always
    starts the first scene and is never reported.
    """

    @property
    def delay(self) -> int:
        """How many frames after a frame its decision is final."""
        ...

    def push(self, thumb: Thumb) -> list[int]:
        """Take the next frame; return newly decided cut frames, ascending."""
        ...

    def flush(self) -> list[int]:
        """No more frames: return the remaining cut frames, ascending."""
        ...


class ContentCutDetector:
    """Adaptive content detector: frame ``i`` starts a scene when it differs from frame ``i-1``.

    The score of frame ``i`` is the weighted mean absolute difference of its Y/Cb/Cr planes to
    those of frame ``i-1`` (0-255; luma counts twice by default: it carries the structure, and a
    cut between two dim shots may change little else). Frame ``i`` is a cut when its score

    * is at least ``threshold`` (absolute floor: noise and grain never cut), and
    * is at least ``ratio`` times the median score of the ``window`` frames on either side
      (relative test: steady fast motion or flicker scores high on every frame, a cut scores
      high on one), and
    * comes at least ``min_scene_frames`` after the previous cut (the earlier cut wins).

    A hard cut therefore lands exactly on the first frame of the new shot. Gradual transitions
    (dissolves, slow fades) change little per frame and are not detected by this test; fades
    through black usually contain a jump large enough to cut inside the fade.

    Raises:
        ValueError: a parameter out of range.
    """

    def __init__(
        self,
        *,
        threshold: float = 10.0,
        ratio: float = 3.0,
        window: int = 2,
        min_scene_frames: int = 3,
        weights: tuple[float, float, float] = (2.0, 1.0, 1.0),
    ) -> None:
        if threshold <= 0 or ratio < 1 or window < 1 or min_scene_frames < 1:
            raise ValueError("need threshold > 0, ratio >= 1, window >= 1, min_scene_frames >= 1")
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        self._threshold = threshold
        self._ratio = ratio
        self._window = window
        self._min_scene = min_scene_frames
        self._weights = weights
        self._previous: Thumb | None = None
        self._count = 0
        # Scores of the frames not yet decided plus `window` decided ones before them.
        self._scores: deque[tuple[int, float]] = deque(maxlen=2 * window + 1)
        self._next = 1  # the next frame awaiting a decision
        self._last_cut = 0

    @property
    def delay(self) -> int:
        """Frames of look-ahead: the decision on frame ``i`` is made when ``i + window`` arrives."""
        return self._window

    def push(self, thumb: Thumb) -> list[int]:
        """Take the next frame's thumbnail; return the cuts decided by it."""
        index = self._count
        self._count += 1
        previous, self._previous = self._previous, thumb
        if previous is None:
            return []
        self._scores.append((index, thumb.difference(previous, self._weights)))
        return self._decide(up_to=index - self._window)

    def flush(self) -> list[int]:
        """Decide the last frames, whose look-ahead is cut short by the end of the video."""
        return self._decide(up_to=self._count - 1)

    def _decide(self, up_to: int) -> list[int]:
        cuts: list[int] = []
        while self._next <= up_to:
            frame = self._next
            self._next += 1
            if self._is_cut(frame):
                self._last_cut = frame
                cuts.append(frame)
        return cuts

    def _is_cut(self, frame: int) -> bool:
        score = 0.0
        around: list[float] = []
        for index, value in self._scores:
            if index == frame:
                score = value
            elif abs(index - frame) <= self._window:
                around.append(value)
        if score < self._threshold or frame - self._last_cut < self._min_scene:
            return False
        baseline = statistics.median(around) if around else 0.0
        return score >= self._ratio * baseline
