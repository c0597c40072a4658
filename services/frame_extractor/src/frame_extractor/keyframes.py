"""Keyframe selection policy, decided as the decode pass goes, with bounded memory.

Policy (issue 2 / issue 3):

* every scene gets one keyframe: the sharpest frame near the middle of the scene (the middle
  half, so neither end of a transition is picked);
* a long scene gets an extra keyframe only where its content really changes, and never more
  than one per ``max_interval_s`` (extra keyframes of a scene are at least that far apart);
* an extra keyframe that is a near-duplicate of any keyframe already kept is dropped (perceptual
  hash, after a flatness check: flat frames all hash alike, so they are compared by colour);
* at most ``max_keyframes`` per video, spread evenly over the video's duration when that binds.

How it streams: a scene is split into *segments*. The first segment starts with the scene; a
new one starts at a sampled frame that is at least ``max_interval_s`` into the current segment
and is not a near-duplicate of the segment's first frame nor of a keyframe already chosen in
the scene. Each segment yields at most one keyframe, chosen when the segment closes. While a
segment is open, only a few *candidates* (frame, time, fingerprint) are kept: frames on a
sampling grid whose step doubles whenever more than ``candidates`` are held, and never frames in
the first quarter of the segment so far (they cannot be in the middle half of the final
segment). Memory is therefore a handful of frames, whatever the length of the video.

Sharpness is computed lazily, only for the candidates that compete when a segment closes.

This module knows nothing about video files: the frame payload is a type parameter, so the
policy is unit-tested with plain values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from frame_extractor.thumbnails import Thumb

P = TypeVar("P")

_HASH_SIDE = 32  # the image is shrunk to 32x32 before the DCT ...
_HASH_KEEP = 8  # ... and the 8x8 lowest frequencies give the 64 hash bits


@dataclass(frozen=True)
class Fingerprint:
    """What near-duplicate tests look at: a 64-bit DCT hash, mean colour and contrast.

    ``contrast`` is the standard deviation of the luma (0-255); below the flatness limit the
    hash is noise (a flat image has no structure to hash) and only the colour counts.
    """

    phash: int
    colour: tuple[float, float, float]
    contrast: float

    @classmethod
    def of(cls, thumb: Thumb) -> Fingerprint:
        """Fingerprint a frame from its thumbnail."""
        luma = thumb.y.astype(np.float32)
        small = cv2.resize(luma, (_HASH_SIDE, _HASH_SIDE), interpolation=cv2.INTER_AREA)
        low = cv2.dct(small)[:_HASH_KEEP, :_HASH_KEEP].flatten()
        # The DC term is the mean brightness: leave it out of the median, as pHash does.
        bits = low > np.median(low[1:])
        phash = int.from_bytes(np.packbits(bits).tobytes(), "big")
        return cls(phash=phash, colour=thumb.means(), contrast=float(luma.std()))


@dataclass(frozen=True)
class Similarity:
    """Thresholds of the near-duplicate test.

    Args:
        hash_distance: at most this many of the 64 hash bits may differ.
        colour_distance: mean Y, Cb and Cr may each differ by at most this much (0-255).
        flat_contrast: below this luma standard deviation a frame counts as flat.
    """

    hash_distance: int = 10
    colour_distance: float = 10.0
    flat_contrast: float = 4.0

    def near_duplicates(self, a: Fingerprint, b: Fingerprint) -> bool:
        """True when ``a`` and ``b`` would show a viewer the same picture."""
        if max(abs(x - y) for x, y in zip(a.colour, b.colour, strict=True)) > self.colour_distance:
            return False
        a_flat, b_flat = a.contrast < self.flat_contrast, b.contrast < self.flat_contrast
        if a_flat or b_flat:
            # Flat frames hash alike whatever their colour: the colour test above decided.
            return a_flat and b_flat
        return (a.phash ^ b.phash).bit_count() <= self.hash_distance


def sharpness(luma: npt.NDArray[np.uint8]) -> float:
    """Variance of the Laplacian: high for crisp detail, low for blur, fades and flat frames."""
    laplacian = cv2.Laplacian(luma, cv2.CV_32F)
    _, std = cv2.meanStdDev(laplacian)
    return float(std[0][0]) ** 2


@dataclass(frozen=True)
class KeyframePolicy:
    """How many keyframes, where.

    Args:
        max_keyframes: hard cap per video.
        max_interval_s: minimum spacing of keyframes inside one scene; a scene only gets
            another keyframe after this long, and only if its content changed.
        duration_s: expected duration of the video (from the container), used to spread the
            cap evenly; ``None`` when unknown (the cap then keeps the first keyframes).
        candidates: frames held per open segment (memory: this many decoded frames).
        similarity: the near-duplicate test.
    """

    max_keyframes: int
    max_interval_s: float
    duration_s: float | None = None
    candidates: int = 12
    similarity: Similarity = field(default_factory=Similarity)

    def __post_init__(self) -> None:
        if self.max_keyframes < 1 or self.max_interval_s <= 0 or self.candidates < 2:
            raise ValueError("need max_keyframes >= 1, max_interval_s > 0 and candidates >= 2")

    def allowed(self, t_s: float) -> int:
        """How many keyframes may have been kept up to time ``t_s``.

        The cap is handed out in proportion to time: by ``t`` at most ``ceil(N * t / D)``. A
        video that would exceed the cap thus keeps keyframes evenly over its whole length
        instead of spending the cap on its beginning; one below the cap everywhere keeps all.
        """
        if self.duration_s is None or self.duration_s <= 0:
            return self.max_keyframes
        share = math.ceil(self.max_keyframes * t_s / self.duration_s - 1e-9)
        return min(self.max_keyframes, max(1, share))


@dataclass(frozen=True)
class Candidate(Generic[P]):
    """A frame that may become a keyframe."""

    index: int
    t_s: float
    fingerprint: Fingerprint
    payload: P


@dataclass(frozen=True)
class Pick(Generic[P]):
    """A final keyframe."""

    index: int
    t_s: float
    scene_index: int
    payload: P
    fingerprint: Fingerprint


@dataclass
class _Segment(Generic[P]):
    start: int
    start_t: float
    anchor: Fingerprint
    first_in_scene: bool
    step: int = 1
    held: list[Candidate[P]] = field(default_factory=list)


class KeyframeSelector(Generic[P]):
    """Applies a :class:`KeyframePolicy` to frames in presentation order.

    Protocol, per decoded frame ``i`` (after scene detection decided about it):
    call :meth:`start_scene` when ``i`` starts a scene (frame 0 always does); then, if
    :meth:`wants` says so, build a :class:`Candidate` (cheap: a fingerprint and a reference to
    the frame) and :meth:`offer` it. At the end call :meth:`finish`. Each call returns the
    keyframes that became final, in frame order.

    Args:
        policy: the policy.
        score: sharpness of a payload (called only for the few candidates that compete).
    """

    def __init__(self, policy: KeyframePolicy, score: Callable[[P], float]) -> None:
        self._policy = policy
        self._score = score
        self._scene = -1
        self._segment: _Segment[P] | None = None
        self._scene_picks: list[Pick[P]] = []
        self._kept: list[Fingerprint] = []

    @property
    def kept(self) -> int:
        """Keyframes kept so far."""
        return len(self._kept)

    @property
    def held(self) -> int:
        """Candidates held right now (each pins one decoded frame in memory)."""
        return 0 if self._segment is None else len(self._segment.held)

    def start_scene(self, index: int) -> list[Pick[P]]:
        """Frame ``index`` starts a new scene; close the previous one."""
        picks = self._close(index)
        self._scene += 1
        self._scene_picks = []
        self._segment = None
        return picks

    def wants(self, index: int) -> bool:
        """Should the caller offer frame ``index`` as a candidate?"""
        segment = self._segment
        if segment is None:
            return self._scene >= 0
        return (index - segment.start) % segment.step == 0

    def offer(self, candidate: Candidate[P]) -> list[Pick[P]]:
        """Consider a candidate; may close a segment because the content changed.

        Raises:
            RuntimeError: no scene was started.
        """
        if self._scene < 0:
            raise RuntimeError("start_scene() must be called before offer()")
        segment = self._segment
        if segment is None:
            self._segment = self._open(candidate, first_in_scene=True)
            return []
        if self._changed(segment, candidate):
            picks = self._close(candidate.index)
            self._segment = self._open(candidate, first_in_scene=False)
            return picks
        held = segment.held
        held.append(candidate)
        # Frames in the first quarter of the segment so far can never be in the middle half
        # of the final segment: forget them (always keeping the newest).
        horizon = segment.start + (candidate.index + 1 - segment.start) / 4
        while len(held) > 1 and held[0].index + 0.5 < horizon:
            held.pop(0)
        if len(held) > self._policy.candidates:
            segment.step *= 2
            segment.held = [c for c in held if (c.index - segment.start) % segment.step == 0]
            if not segment.held:
                segment.held = [held[-1]]
        return []

    def finish(self, end: int) -> list[Pick[P]]:
        """The video ended before frame ``end``: close the last scene."""
        picks = self._close(end)
        self._segment = None
        return picks

    def _open(self, first: Candidate[P], *, first_in_scene: bool) -> _Segment[P]:
        return _Segment(
            start=first.index,
            start_t=first.t_s,
            anchor=first.fingerprint,
            first_in_scene=first_in_scene,
            held=[first],
        )

    def _changed(self, segment: _Segment[P], candidate: Candidate[P]) -> bool:
        if candidate.t_s - segment.start_t < self._policy.max_interval_s:
            return False
        similar = self._policy.similarity.near_duplicates
        seen = [segment.anchor, *(p.fingerprint for p in self._scene_picks)]
        return not any(similar(candidate.fingerprint, f) for f in seen)

    def _close(self, end: int) -> list[Pick[P]]:
        segment = self._segment
        if segment is None or not segment.held:
            return []
        self._segment = None
        pool = segment.held
        if not segment.first_in_scene:
            # An extra keyframe must show something new, and keep its distance from the
            # scene's previous keyframe: choose only among candidates that do both.
            similar = self._policy.similarity.near_duplicates
            earliest = self._scene_picks[-1].t_s if self._scene_picks else -math.inf
            earliest += self._policy.max_interval_s
            pool = [
                c
                for c in pool
                if c.t_s >= earliest - 1e-9
                and not any(similar(c.fingerprint, f) for f in self._kept)
            ]
        length = end - segment.start
        middle = [c for c in pool if length / 4 <= c.index - segment.start + 0.5 <= 3 * length / 4]
        pool = middle or pool
        if not pool:
            return []
        centre = segment.start + length / 2

        def rank(c: Candidate[P]) -> tuple[float, float]:
            return self._score(c.payload), -abs(c.index + 0.5 - centre)

        best = pool[0] if len(pool) == 1 else max(pool, key=rank)
        if len(self._kept) >= self._policy.allowed(best.t_s):
            return []
        pick = Pick(best.index, best.t_s, self._scene, best.payload, best.fingerprint)
        self._scene_picks.append(pick)
        self._kept.append(best.fingerprint)
        return [pick]
