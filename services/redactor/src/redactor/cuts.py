"""A cheap hard-cut test on consecutive frame thumbnails.

Tracks must end at a cut (a face does not jump across shots) and a new shot must be looked at
at once. The frame extractor's scene detector answers a different question (shots for
keyframes, fades and dissolves included, with a look-ahead); here only hard cuts matter, decided
frame by frame on a 64x36 thumbnail, with two signals:

- the Bhattacharyya distance between the hue/saturation/value histograms of the thumbnail and
  the previous one: motion, even a fast pan, keeps them, a cut to another picture changes them;
- the mean absolute luma difference between the two thumbnails, when it stands out from the
  differences of the frames before (a cut between two shots with the same colours, which the
  histograms miss): steady motion changes every frame about as much, a cut at once far more.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import numpy.typing as npt

_BINS = [16, 8, 8]
_RANGES = [0, 180, 0, 256, 0, 256]
# The luma test: a difference of at least this many levels (0-255) on the thumbnail, and this
# many times the recent (median) difference plus a margin.
_MIN_LUMA_CHANGE = 12.0
_STANDS_OUT = 3.0
_MARGIN = 4.0
_RECENT = 8


class HistogramCuts:
    """Decides, for each thumbnail pushed in order, whether it starts a new shot."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._previous: npt.NDArray[np.float32] | None = None
        self._previous_luma: npt.NDArray[np.int16] | None = None
        self._recent: deque[float] = deque(maxlen=_RECENT)

    def push(self, rgb: npt.NDArray[np.uint8]) -> bool:
        """The next frame's RGB thumbnail; True when it starts a new shot (never the first)."""
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        raw = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, _RANGES)
        hist: npt.NDArray[np.float32] = np.asarray(raw, np.float32)
        luma = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.int16)
        previous, self._previous = self._previous, hist
        previous_luma, self._previous_luma = self._previous_luma, luma
        if previous is None or previous_luma is None:
            return False
        distance = float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))
        change = float(np.abs(luma - previous_luma).mean())
        # The median: one earlier cut in the window does not hide the next.
        usual = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(change)
        if distance >= self._threshold:
            return True
        return change >= _MIN_LUMA_CHANGE and change >= _STANDS_OUT * usual + _MARGIN
