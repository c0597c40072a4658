"""Scene-cut detection on the small planes of frames fed from our own decode loop.

Why not hand the file to PySceneDetect: it opens and decodes the video itself, so we would pay
for a second decode pass (the frame stage is bound by decoding) and it converts every frame to
HSV. Its content detectors' idea is kept - compare consecutive frames' colour content, and (as
its ``AdaptiveDetector`` does) require the change to stand out from the changes around it - but
computed on Y/Cb/Cr planes the decoder already produced (see :mod:`frame_extractor.thumbnails`).
PySceneDetect's own detectors remain available behind the same protocol, fed from the same pass
(:mod:`frame_extractor.pyscenedetect_detector`, setting ``detector=pyscenedetect``); the
benchmark prints the accuracy and speed of both.

Chroma is compared directly, so a change of hue between flat colours (which HSV-mean detectors
with the default threshold miss: red to green moves hue by 60 of 180 units, a score of 20 < 27)
is a large Cb/Cr change here.

Gradual transitions (dissolves, fades through black or white) change little from one frame to
the next and never pass the hard-cut test. They are found by a second, bounded test on luma
(:class:`FadeTest`), and a brief flash (a camera flash, a muzzle flash, a lightning strike) that
returns to the same picture within the look-ahead is not taken for a cut.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from frame_extractor.thumbnails import Plane, Thumb


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


@dataclass(frozen=True)
class FadeTest:
    """Parameters of gradual-transition detection (dissolves, fades through black or white).

    At every frame ``i`` and for a few spans ``k`` up to ``max_frames`` (8, 16, 32, ...), the
    luma of frame ``i`` is compared with that of frame ``i - k``. A transition is declared when,
    for some span, that distance ``D`` is at least ``threshold`` and the change is

    * *monotone*: ``D`` is at least ``monotony`` times the sum of the frame-to-frame luma changes
      over the span. A dissolve or a fade moves every pixel steadily from one picture to the
      other, so the two are nearly equal; motion moves pixels up and down, so the sum grows much
      faster than the distance;
    * *spread out*: no single frame of the span carries more than half of ``D`` (that is a hard
      cut, or a flash, for the other test to judge);
    * *a blend*: the frame half way (by distance) differs from the mean of both ends by at most
      ``blend_tolerance`` times ``D``, and
    * *no motion*: shifting the first frame (by the shift phase correlation finds) does not
      explain the change - a pan over smooth content is as steady as a dissolve.

    The cut lands on the frame of the span where the picture has gone half way (or, if that
    frame was already decided, on the first undecided one): inside the transition. The next
    gradual cut is looked for only once the picture has settled (it changes by less than half
    the threshold over 8 frames and is not flat - luma deviation below ``flat_contrast`` - or
    ``max_frames`` have passed), among frames after that point, so a fade out and in through
    black is one cut. Only luma is compared, on every other pixel of the thumbnail: a slow change
    of colour alone (a grade, a hue sweep) is not a transition, while a fade always changes luma.

    Raises:
        ValueError: a parameter out of range.
    """

    threshold: float = 20.0
    monotony: float = 0.5
    blend_tolerance: float = 0.3
    max_frames: int = 50
    flat_contrast: float = 8.0

    def __post_init__(self) -> None:
        if self.threshold <= 0 or not 0 < self.monotony <= 1 or self.max_frames < 4:
            raise ValueError("fade test needs threshold > 0, 0 < monotony <= 1, max_frames >= 4")

    @property
    def spans(self) -> tuple[int, ...]:
        """The spans compared at every frame: doubling from 8, and ``max_frames`` itself."""
        spans: list[int] = []
        span = 8
        while span < self.max_frames:
            spans.append(span)
            span *= 2
        return (*spans, self.max_frames)


class ContentCutDetector:
    """Adaptive content detector: frame ``i`` starts a scene when it differs from frame ``i-1``.

    The score of frame ``i`` is the weighted mean absolute difference of its Y/Cb/Cr planes to
    those of frame ``i-1`` (0-255; luma counts twice by default: it carries the structure, and a
    cut between two dim shots may change little else). Frame ``i`` is a hard cut when its score

    * is at least ``threshold`` (absolute floor: noise and grain never cut), and
    * is at least ``ratio`` times the median score of the ``window`` frames on either side
      (relative test: steady fast motion or flicker scores high on every frame, a cut scores
      high on one), and
    * is not a flash (with ``suppress_flashes``): no frame of the look-ahead is back within
      ``threshold`` of frame ``i-1``, and frame ``i`` is not back within ``threshold`` of one
      of the ``window`` frames before ``i-1`` (the end of a flash), and
    * comes at least ``min_scene_frames`` after the previous cut (the earlier cut wins).

    A hard cut therefore lands exactly on the first frame of the new shot. Gradual transitions
    are found by ``fade`` (see :class:`FadeTest`; ``None`` turns it off) and land inside the
    transition.

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
        fade: FadeTest | None = None,
        suppress_flashes: bool = True,
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
        self._fade = fade
        self._flashes = suppress_flashes
        self._count = 0
        # Scores of the frames not yet decided plus `window` decided ones before them.
        self._scores: deque[tuple[int, float]] = deque(maxlen=2 * window + 1)
        # Recent thumbnails: the flash test needs the look-ahead and `window + 1` frames before.
        self._thumbs: deque[Thumb] = deque(maxlen=2 * window + 2)
        # Frame-to-frame luma changes over the fade test's longest span.
        self._luma: deque[float] = deque(maxlen=fade.max_frames if fade else 1)
        self._next = 1  # the next frame awaiting a decision
        self._last_cut = 0
        self._gradual: list[int] = []  # fade cuts found, not yet decided
        # Every other luma sample of the last frames, for the fade test's span comparisons.
        self._small: deque[Plane] = deque(maxlen=(fade.max_frames + 1) if fade else 1)
        self._settling: int | None = None  # frame where the last transition was found
        self._fade_floor = 0  # fade spans start at or after this frame

    @property
    def delay(self) -> int:
        """Frames of look-ahead: the decision on frame ``i`` is made when ``i + window`` arrives."""
        return self._window

    def push(self, thumb: Thumb) -> list[int]:
        """Take the next frame's thumbnail; return the cuts decided by it."""
        index = self._count
        self._count += 1
        previous = self._thumbs[-1] if self._thumbs else None
        self._thumbs.append(thumb)
        if self._fade is not None:
            small = thumb.y[::2, ::2]
            if previous is not None and self._small and small.shape == self._small[-1].shape:
                self._luma.append(_small_difference(small, self._small[-1]))
            else:  # first frame, or the size changed: start the fade test afresh
                self._small.clear()
                self._luma.clear()
            self._small.append(small)
        if previous is None:
            return []
        self._scores.append((index, thumb.difference(previous, self._weights)))
        if self._fade is not None:
            self._follow_fade(index, self._fade)
        return self._decide(up_to=index - self._window)

    def flush(self) -> list[int]:
        """Decide the last frames, whose look-ahead is cut short by the end of the video."""
        return self._decide(up_to=self._count - 1)

    def _decide(self, up_to: int) -> list[int]:
        cuts: list[int] = []
        while self._next <= up_to:
            frame = self._next
            self._next += 1
            gradual = False
            while self._gradual and self._gradual[0] <= frame:
                gradual = True
                self._gradual.pop(0)
            if frame - self._last_cut < self._min_scene:
                continue
            if gradual or self._is_cut(frame):
                self._last_cut = frame
                cuts.append(frame)
                if not gradual:
                    # A hard cut may open a transition (some editors' fades start with a jump):
                    # let the picture settle before looking for a gradual cut again.
                    self._settling = max(self._settling or 0, frame)
        return cuts

    def _is_cut(self, frame: int) -> bool:
        score = 0.0
        around: list[float] = []
        for index, value in self._scores:
            if index == frame:
                score = value
            elif abs(index - frame) <= self._window:
                around.append(value)
        if score < self._threshold:
            return False
        baseline = statistics.median(around) if around else 0.0
        return score >= self._ratio * baseline and not (self._flashes and self._is_flash(frame))

    def _is_flash(self, frame: int) -> bool:
        """Is ``frame`` the start or the end of a brief change the picture returns from?

        Start: a frame of the look-ahead is back within ``threshold`` of frame ``frame - 1``.
        End: ``frame`` is back within ``threshold`` of a frame up to ``window`` before the
        previous one (the flash began after it).
        """
        thumbs = list(self._thumbs)
        first = self._count - len(thumbs)  # frame index of thumbs[0]
        if frame - 1 < first:
            return False
        before = thumbs[frame - 1 - first]
        after = thumbs[frame + 1 - first :]
        if any(t.difference(before, self._weights) < self._threshold for t in after):
            return True
        current = thumbs[frame - first]
        earlier = thumbs[max(0, frame - 1 - self._window - first) : frame - 1 - first]
        return any(t.difference(current, self._weights) < self._threshold for t in earlier)

    # --- gradual transitions ---------------------------------------------------------------

    def _follow_fade(self, index: int, fade: FadeTest) -> None:
        newest = self._small[-1]
        if self._settling is not None:
            # A transition was found at frame `_settling`: wait until the picture settles (or
            # max_frames), and compare only frames after that, so that one transition (a fade
            # out and in through black) never yields two cuts.
            short = min(fade.spans[0], len(self._small) - 1)
            moving = _small_difference(newest, self._small[-1 - short]) >= fade.threshold / 2
            # The black (or white) middle of a fade through black is no settled picture.
            flat = float(newest.std()) < fade.flat_contrast
            if (moving or flat) and index - self._settling < fade.max_frames:
                return
            self._settling = None
            self._fade_floor = index
        for span in fade.spans:
            if span >= len(self._small) or index - span < self._fade_floor:
                break
            distance = _small_difference(newest, self._small[-1 - span])
            if distance < fade.threshold:
                continue
            changes = list(itertools.islice(reversed(self._luma), span))
            if max(changes) > distance / 2 or distance < fade.monotony * sum(changes):
                continue
            start = self._small[-1 - span]
            offset = next(
                offset
                for offset in range(1, span + 1)
                if _small_difference(self._small[-1 - span + offset], start) >= distance / 2
            )
            # Half way through a dissolve or fade the picture is a blend of both ends. Motion of
            # flat-shaded content (scrolling bars) also changes pixels monotonically, but each
            # one jumps at once: half way, half of them are one end and half the other.
            blend = (start + newest) / 2
            middle = self._small[-1 - span + offset]
            if float(np.abs(middle - blend).mean()) > fade.blend_tolerance * distance:
                continue
            if _explained_by_motion(start, newest, distance):
                continue
            halfway = index - span + offset
            self._gradual.append(max(halfway, self._next))
            self._settling = index
            return


def _explained_by_motion(start: Plane, end: Plane, distance: float) -> bool:
    """Is ``end`` mostly ``start`` shifted (a pan or scroll), rather than another picture?

    A pan over smooth content (sky, a gradient) changes pixels as steadily as a dissolve. If
    shifting ``start`` by some offset leaves less than half the difference, the change is
    motion. Phase correlation finds the shift cheaply; when it does not explain the change (it
    can lock onto a wrong peak), a template match over all shifts up to a quarter of the picture
    decides. Both run only for the frames that pass every other fade test.
    """
    a, b = start.astype(np.float32), end.astype(np.float32)
    height, width = a.shape
    if height < 4 or width < 4:
        return False
    # The window tapers the borders, which would otherwise correlate at zero shift. OpenCV
    # applies it to its inputs in place: give it copies.
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a.copy(), b.copy(), window)
    if _shifted_difference(a, b, round(dx), round(dy)) < distance / 2:
        return True
    # Exhaustive search (one template match) over shifts up to a quarter of the picture.
    reach_x, reach_y = width // 4, height // 4
    template = a[reach_y : height - reach_y, reach_x : width - reach_x]
    costs = cv2.matchTemplate(b, template, cv2.TM_SQDIFF)
    _, _, (best_x, best_y), _ = cv2.minMaxLoc(costs)
    return _shifted_difference(a, b, best_x - reach_x, best_y - reach_y) < distance / 2


def _shifted_difference(
    a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], sx: int, sy: int
) -> float:
    """Mean absolute difference of ``a`` moved by ``(sx, sy)`` and ``b``, where they overlap."""
    height, width = a.shape
    if abs(sx) >= width // 2 or abs(sy) >= height // 2:
        return math.inf  # too little overlap to say
    moved = a[max(0, -sy) : height - max(0, sy), max(0, -sx) : width - max(0, sx)]
    target = b[max(0, sy) : height - max(0, -sy), max(0, sx) : width - max(0, -sx)]
    return float(np.abs(moved - target).mean())


def _small_difference(a: Plane, b: Plane) -> float:
    return float(np.abs(a - b).mean())
