"""A cheap hard-cut test: colour histograms of consecutive frame thumbnails.

Tracks must end at a cut (a face does not jump across shots) and a new shot must be looked at
at once. The frame extractor's scene detector answers a different question (shots for
keyframes, fades and dissolves included, with a look-ahead); here only hard cuts matter, decided
frame by frame: the Bhattacharyya distance between the hue/saturation/value histograms of a
64x36 thumbnail and the previous one. Motion, even a fast pan, keeps the histograms; a cut to
another picture changes them.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

_BINS = [16, 8, 8]
_RANGES = [0, 180, 0, 256, 0, 256]


class HistogramCuts:
    """Decides, for each thumbnail pushed in order, whether it starts a new shot."""

    def __init__(self, threshold: float) -> None:
        self._threshold = threshold
        self._previous: npt.NDArray[np.float32] | None = None

    def push(self, rgb: npt.NDArray[np.uint8]) -> bool:
        """The next frame's RGB thumbnail; True when it starts a new shot (never the first)."""
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        raw = cv2.calcHist([hsv], [0, 1, 2], None, _BINS, _RANGES)
        hist: npt.NDArray[np.float32] = np.asarray(raw, np.float32)
        previous, self._previous = self._previous, hist
        if previous is None:
            return False
        distance = float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))
        return distance >= self._threshold
