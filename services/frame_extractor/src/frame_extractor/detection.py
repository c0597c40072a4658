"""Scene-cut detection on the small planes of frames fed from our own decode loop.

Why not hand the file to PySceneDetect: it opens and decodes the video itself, so we would pay
for a second decode pass (the frame stage is bound by decoding) and it converts every frame to
HSV. Its content detectors' idea is kept - compare consecutive frames' colour content, and (as
its ``AdaptiveDetector`` does) require the change to stand out from the changes around it - but
computed on Y/Cb/Cr planes the decoder already produced (see :mod:`frame_extractor.thumbnails`).
PySceneDetect's own detectors remain available behind the same protocol, fed from the same pass
(:mod:`frame_extractor.pyscenedetect_detector`, setting ``detector=pyscenedetect``); the
benchmark prints the accuracy and speed of both.

The adaptive test alone misses the hard cut next to a shot in which every pixel changes every
frame (noise, a scrolling pattern, a cellular automaton, confetti, a fast pan): the cut does not
stand out from its neighbours. A second signal catches it: the colour histograms, which such a
shot keeps while a cut changes them (:class:`HistogramTest`). They are computed only when a
frame changes enough to need them, so calm footage does not pay for them. ``bench/bench_shots.py``
holds the evidence for every threshold (see ``docs/architecture.md``).

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
from typing import Protocol, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from frame_extractor.thumbnails import Plane, Thumb

# A gradual cut this close (frames) after another cut belongs to the same transition.
_SAME_TRANSITION = 3


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


@dataclass(frozen=True)
class HistogramTest:
    """Parameters of the second hard-cut signal: a jump of the colour histograms.

    The adaptive test asks a cut to stand out from the frame-to-frame changes on *both* sides.
    Next to a shot whose pixels all change every frame (noise, a scrolling pattern, a cellular
    automaton, confetti, a fast pan) the cut does not, yet its colour distribution jumps while
    that shot's stays put: noise stays noise, a pan stays over the same kind of scenery. So
    frame ``i`` is also a hard cut when

    * the distance ``H`` between the Y/Cb/Cr histograms of frames ``i`` and ``i-1`` (total
      variation, 0-1, ``bins`` soft bins per plane, luma weighted like the content score) is at
      least ``threshold``, and
    * ``H`` is at least ``ratio`` times the mean histogram distance on the *calmer* side of it
      (the ``window`` frames before, or the ``window`` after): a shot whose histogram changes
      every frame (a strobe, a fast zoom) is steady on one side of a cut into it; and at least
      ``busy_ratio`` times that on the busier side (the end of a fade, whose histogram moves
      on every frame before it, is no cut), and
    * the change happens at once: the histograms of frames ``i-2`` and ``i+1`` are at most
      ``spread`` times ``H`` apart (a fast fade keeps changing after ``i``), and
    * the content score is at least ``min_score`` (0-255): a flat picture drifting across a
      histogram bin edge changes little.

    Flashes and the minimum scene length apply as for the adaptive test.

    Raises:
        ValueError: a parameter out of range.
    """

    threshold: float = 0.1
    ratio: float = 4.0
    busy_ratio: float = 1.25
    spread: float = 1.3
    min_score: float = 5.0
    bins: int = 32

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1 or min(self.ratio, self.busy_ratio, self.spread) < 1:
            raise ValueError("histogram test needs 0 < threshold <= 1 and ratios >= 1")
        if self.min_score < 0 or not 2 <= self.bins <= 256:
            raise ValueError("histogram test needs min_score >= 0 and 2 <= bins <= 256")


class ContentCutDetector:
    """Adaptive content detector: frame ``i`` starts a scene when it differs from frame ``i-1``.

    The score of frame ``i`` is the weighted mean absolute difference of its Y/Cb/Cr planes to
    those of frame ``i-1`` (0-255; luma counts twice by default: it carries the structure, and a
    cut between two dim shots may change little else). Frame ``i`` is a hard cut when

    * either its score is at least ``threshold`` (absolute floor: noise and grain never cut)
      and at least ``ratio`` times the median score of the ``window`` frames on either side
      (relative test: steady fast motion or flicker scores high on every frame, a cut scores
      high on one),
    * or its colour histograms jump (``histogram``, see :class:`HistogramTest`; ``None`` turns
      it off): the cut next to a shot in which every pixel changes every frame, which the
      relative test cannot see;

    and in both cases

    * it is not a flash (with ``suppress_flashes``): no frame of the look-ahead is back near
      frame ``i-1``, and frame ``i`` is not back near one of the ``window`` frames before
      ``i-1`` (the end of a flash). *Near* is a score below ``threshold``, or, in a shot that
      moves a lot, a score well below the jump itself with the histograms back too, and
    * it comes at least ``min_scene_frames`` after the previous cut (the earlier cut wins).

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
        min_scene_frames: int = 1,
        weights: tuple[float, float, float] = (2.0, 1.0, 1.0),
        fade: FadeTest | None = None,
        histogram: HistogramTest | None = HistogramTest(),
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
        self._histogram = histogram
        self._flashes = suppress_flashes
        self._count = 0
        # (frame, score) of the frames not yet decided plus `window` decided ones before them.
        self._scores: deque[tuple[int, float]] = deque(maxlen=2 * window + 1)
        # Recent thumbnails: the flash test needs the look-ahead and `window + 1` frames
        # before. Their histograms are computed only when a test asks (None until then): a
        # calm picture never needs them.
        self._thumbs: deque[Thumb] = deque(maxlen=2 * window + 2)
        self._hists: deque[Histogram | None] = deque(maxlen=2 * window + 2)
        self._jumps: dict[int, float] = {}  # histogram distance of frame i to i-1, as asked
        # Frame-to-frame luma changes over the fade test's longest span.
        self._luma: deque[float] = deque(maxlen=fade.max_frames if fade else 1)
        self._next = 1  # the next frame awaiting a decision
        self._last_cut = 0
        self._gradual: list[int] = []  # fade cuts found, not yet decided
        # Every other luma sample of the last frames, for the fade test's span comparisons.
        self._small: deque[Plane] = deque(maxlen=(fade.max_frames + 1) if fade else 1)
        self._settling: int | None = None  # frame where the last transition was found
        self._in_transition = False  # a gradual transition was found and has not settled
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
        self._hists.append(None)
        first = index + 1 - len(self._thumbs)
        for stale in [frame for frame in self._jumps if frame <= first]:
            del self._jumps[stale]
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
            if gradual and frame - self._last_cut < _SAME_TRANSITION:
                # The fade test found the transition a hard cut just took (a fast fade whose
                # first step is a jump): one cut is enough.
                gradual = False
            if gradual or self._is_cut(frame):
                self._last_cut = frame
                cuts.append(frame)
                if not gradual:
                    # A hard cut may open a transition (some editors' fades start with a jump):
                    # let the picture settle before looking for a gradual cut again.
                    self._settling = max(self._settling or 0, frame)
        return cuts

    def _thumb(self, frame: int) -> Thumb | None:
        position = frame - (self._count - len(self._thumbs))
        return self._thumbs[position] if 0 <= position < len(self._thumbs) else None

    def _hist(self, frame: int) -> Histogram | None:
        """The histogram of a recent frame, computed on first use (None: not kept, or off)."""
        position = frame - (self._count - len(self._thumbs))
        if self._histogram is None or not 0 <= position < len(self._thumbs):
            return None
        hist = self._hists[position]
        if hist is None:
            hist = histogram(self._thumbs[position], self._histogram.bins)
            self._hists[position] = hist
        return hist

    def _jump(self, frame: int) -> float:
        """Histogram distance of ``frame`` to the frame before (0 when either is not kept)."""
        if frame not in self._jumps:
            distance = _hist_distance(self._hist(frame), self._hist(frame - 1), self._weights)
            self._jumps[frame] = distance
        return self._jumps[frame]

    def _is_cut(self, frame: int) -> bool:
        scores = dict(self._scores)
        score = scores.get(frame, 0.0)
        around = [v for i, v in scores.items() if i != frame and abs(i - frame) <= self._window]
        adaptive = score >= self._threshold and score >= self._ratio * (
            statistics.median(around) if around else 0.0
        )
        if not adaptive and not self._histogram_jump(frame, score, scores):
            return False
        if frame - self._last_cut == 1 and self._between(frame - 2, frame - 1, frame):
            # A one-frame shot: that frame must be a picture of its own, not a step between
            # its neighbours (a quick fade to black in two strides).
            return False
        return not (self._flashes and self._is_flash(frame, scores))

    def _histogram_jump(self, frame: int, score: float, scores: dict[int, float]) -> bool:
        test = self._histogram
        if test is None or score < test.min_score:
            return False
        jump = self._jump(frame)
        if jump < test.threshold:
            return False
        if self._in_transition:
            # Inside a gradual transition the fade test already cut, the histogram moves on
            # every frame and may lurch at its end: that is the same transition.
            return False
        window = range(1, self._window + 1)
        # The previous cut is no change of the shot before this one: leave it out.
        before = [
            self._jump(frame - k)
            for k in window
            if frame - k in scores and frame - k != self._last_cut
        ]
        after = [self._jump(frame + k) for k in window if frame + k in scores]
        # A side cut short by the start or the end of the video says nothing.
        sides = [statistics.fmean(side) for side in (before, after) if side]
        # It must stand far out from the calmer side, and out from the busier one too: the
        # end of a fade changes the histogram much on every frame before it, none after.
        if sides and (jump < test.ratio * min(sides) or jump < test.busy_ratio * max(sides)):
            return False
        # A cut changes the picture at once: the frames two before and one after are no
        # further apart than the two frames of the cut. A fast fade keeps going.
        first = self._count - len(self._thumbs)
        early, late = max(frame - 2, first), min(frame + 1, self._count - 1)
        wide = _hist_distance(self._hist(early), self._hist(late), self._weights)
        if wide > test.spread * jump:
            return False
        # Nor is it the first step of a dissolve: the picture going on changing the same way,
        # frame `frame` a blend between the frames either side of it.
        following = scores.get(frame + 1, 0.0)
        return not (following >= 0.3 * score and self._between(frame - 1, frame, frame + 1))

    def _between(self, a: int, b: int, c: int) -> bool:
        """Does frame ``b`` lie between frames ``a`` and ``c`` (a step of one steady change)?

        Pixel by pixel, a blend of two pictures is on the way from one to the other: going
        through it costs hardly more than going straight. An unrelated picture is a detour.
        """
        first, middle, last = self._thumb(a), self._thumb(b), self._thumb(c)
        if first is None or middle is None or last is None:
            return False
        straight = first.difference(last, self._weights)
        stepped = first.difference(middle, self._weights) + middle.difference(last, self._weights)
        return straight >= 0.8 * stepped

    def _is_flash(self, frame: int, scores: dict[int, float]) -> bool:
        """Is ``frame`` the start or the end of a brief change the picture returns from?

        Start: a frame of the look-ahead is back near frame ``frame - 1``. End: ``frame`` is
        back near a frame up to ``window`` before the previous one (the flash began after it).
        """
        first = self._count - len(self._thumbs)  # the oldest frame kept
        if frame - 1 < first:
            return False
        window = range(1, self._window + 1)
        # How much the picture moves from frame to frame on either side of the jump.
        motion_before = _median([scores[frame - k] for k in window if frame - k in scores])
        motion_after = _median([scores[frame + k] for k in window if frame + k in scores])
        if any(
            self._back(t, frame - 1, frame, motion_before * (t - frame + 1))
            for t in range(frame + 1, self._count)
        ):
            return True
        earliest = max(first, frame - 1 - self._window)
        return any(
            self._back(t, frame, frame - 1, motion_after * (frame - t))
            for t in range(earliest, frame - 1)
        )

    def _back(self, t: int, reference: int, flash: int, motion: float) -> bool:
        """Is frame ``t`` back near frame ``reference``, away from which ``flash`` jumped?

        ``motion`` is how much the picture around ``reference`` moves over as many frames as
        separate ``t`` from it.
        """
        seen, there, away = self._thumb(t), self._thumb(reference), self._thumb(flash)
        if seen is None or there is None or away is None:
            return False
        distance = seen.difference(there, self._weights)
        jump = away.difference(there, self._weights)
        # Back below the threshold - unless the jump itself was hardly more (a cut between
        # two dim shots changes little, and the new shot stays as far from the old).
        if distance < min(self._threshold, 0.5 * jump):
            return True
        # In a shot that moves a lot, frames apart already differ by more than the threshold
        # (as much as the flash itself in a fast scroll): the picture is back when that motion
        # explains the difference and its colour histogram has come back (a cut to another
        # shot changes the histogram for good).
        if self._histogram is None or distance > 1.5 * motion:
            return False
        h_back = _hist_distance(self._hist(t), self._hist(reference), self._weights)
        h_jump = _hist_distance(self._hist(flash), self._hist(reference), self._weights)
        return h_back <= 0.3 * h_jump

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
            self._in_transition = False
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
            if max(float(start.std()), float(newest.std())) < fade.flat_contrast:
                # A flat picture changing brightness (a flat grey fading up to white) shows no
                # new picture: no transition.
                continue
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
            self._in_transition = True
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


Histogram: TypeAlias = tuple[npt.NDArray[np.float64], ...]


def histogram(thumb: Thumb, bins: int) -> Histogram:
    """Normalised histograms (``bins`` bins over 0-255) of the thumbnail's planes, smoothed.

    Each plane is counted on two grids of bins, the second shifted by half a bin, and the two
    are kept side by side: a picture whose levels drift a little (grain, a slow change of
    exposure) then moves its histogram a little, not by whole bins, as it would on one grid.
    Luma is sampled at every other pixel, like chroma in 4:2:0: the shape of a distribution
    needs far fewer samples than a pixel-wise difference. (OpenCV counts: a few tens of
    microseconds a frame.)
    """
    planes = [thumb.y[::2, ::2], thumb.u, thumb.v]
    return tuple(_smoothed_histogram(p, bins) for p in planes if p is not None)


def _smoothed_histogram(plane: Plane, bins: int) -> npt.NDArray[np.float64]:
    image = np.ascontiguousarray(plane, dtype=np.uint8)  # thumbnails hold 0-255
    half = 128 / bins
    grids = [
        cv2.calcHist([image], [0], None, [bins], [low, low + 256]).ravel() for low in (0.0, -half)
    ]
    counts = np.concatenate(grids).astype(np.float64)
    total = float(counts.sum())
    return counts / total if total else counts


def _hist_distance(
    a: Histogram | None, b: Histogram | None, weights: tuple[float, float, float]
) -> float:
    """Weighted total-variation distance of two frames' histograms (0-1)."""
    if a is None or b is None:
        return 0.0
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        return 1.0  # gray against colour, or the bins changed: a total change
    distances = [0.5 * float(np.abs(x - y).sum()) for x, y in zip(a, b, strict=True)]
    used = weights[: len(distances)]
    return sum(w * d for w, d in zip(used, distances, strict=True)) / sum(used)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _small_difference(a: Plane, b: Plane) -> float:
    return float(np.abs(a - b).mean())
