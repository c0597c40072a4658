"""Keyframe policy, on synthetic frames (no video): what is kept, where, and how much memory."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from frame_extractor.keyframes import (
    Candidate,
    Fingerprint,
    KeyframePolicy,
    KeyframeSelector,
    Pick,
    Similarity,
    sharpness,
)
from frame_extractor.thumbnails import Thumb

FPS = 25


def flat(y: int, u: int = 128, v: int = 128) -> Thumb:
    """A flat frame of one colour (Y, Cb, Cr)."""

    def plane(value: int) -> np.ndarray:
        return np.full((60, 80), value, dtype=np.int16)

    return Thumb(plane(y), plane(u), plane(v))


def textured(seed: int) -> Thumb:
    """A structured frame (smooth random blobs), different for every seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 8)).astype(np.float32)
    luma = cv2.resize(coarse, (80, 60), interpolation=cv2.INTER_CUBIC).clip(0, 255)
    grey = np.full((60, 80), 128, dtype=np.int16)
    return Thumb(luma.astype(np.int16), grey, grey)


RED, GREEN, BLUE = flat(81, 90, 240), flat(145, 54, 34), flat(41, 240, 110)


@dataclass(frozen=True)
class Stretch:
    """``seconds`` of frames looking like ``thumb``; ``cut`` if it starts a new scene."""

    seconds: float
    thumb: Thumb
    cut: bool = False


def run(
    policy: KeyframePolicy,
    stretches: Sequence[Stretch],
    score: Callable[[int], float] = lambda _: 1.0,
    watch: Callable[[KeyframeSelector[int]], None] = lambda _: None,
) -> list[Pick[int]]:
    """Feed frames (payload = frame index) to a selector the way the extraction pass does."""
    selector: KeyframeSelector[int] = KeyframeSelector(policy, score)
    picks: list[Pick[int]] = []
    index = 0
    for number, stretch in enumerate(stretches):
        fingerprint = Fingerprint.of(stretch.thumb)
        for _ in range(round(stretch.seconds * FPS)):
            if index == 0 or (stretch.cut and number > 0 and _is_first(index, stretches)):
                picks += selector.start_scene(index)
            if selector.wants(index):
                picks += selector.offer(Candidate(index, index / FPS, fingerprint, index))
            watch(selector)
            index += 1
    picks += selector.finish(index)
    return picks


def _is_first(index: int, stretches: Sequence[Stretch]) -> bool:
    start = 0
    for stretch in stretches:
        if index == start:
            return stretch.cut
        start += round(stretch.seconds * FPS)
    return False


def policy(**overrides: object) -> KeyframePolicy:
    values: dict[str, object] = {"max_keyframes": 200, "max_interval_s": 10.0}
    values.update(overrides)
    return KeyframePolicy(**values)  # type: ignore[arg-type]


# --- near-duplicates and the flatness check ------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "duplicate"),
    [
        pytest.param(RED, RED, True, id="same-flat-colour"),
        pytest.param(RED, GREEN, False, id="flat-red-vs-flat-green"),
        pytest.param(GREEN, BLUE, False, id="flat-green-vs-flat-blue"),
        pytest.param(textured(1), textured(1), True, id="same-texture"),
        pytest.param(textured(1), textured(2), False, id="different-texture"),
        pytest.param(flat(128), textured(1), False, id="flat-vs-textured-same-brightness"),
    ],
)
def test_near_duplicates_are_judged_by_hash_and_colour(a: Thumb, b: Thumb, duplicate: bool) -> None:
    # GIVEN two frames WHEN fingerprinted and compared THEN duplicates are exactly the expected
    assert Similarity().near_duplicates(Fingerprint.of(a), Fingerprint.of(b)) is duplicate


def test_flat_frames_hash_alike_so_the_hash_alone_would_merge_them() -> None:
    # GIVEN flat frames of clearly different colours
    hashes = {Fingerprint.of(t).phash for t in (RED, GREEN, BLUE)}
    # THEN their perceptual hashes are identical (why the flatness check exists) ...
    assert len(hashes) == 1
    # ... AND yet they are not near-duplicates
    assert not Similarity().near_duplicates(Fingerprint.of(RED), Fingerprint.of(BLUE))


def test_a_slightly_noisy_copy_is_still_a_duplicate() -> None:
    # GIVEN a textured frame and the same frame with sensor-like noise
    original = textured(5)
    noise = np.random.default_rng(0).integers(-3, 4, size=original.y.shape).astype(np.int16)
    noisy = Thumb(original.y + noise, original.u, original.v)
    # THEN they are near-duplicates
    assert Similarity().near_duplicates(Fingerprint.of(original), Fingerprint.of(noisy))


def test_sharpness_ranks_a_crisp_frame_above_its_blurred_copy() -> None:
    # GIVEN a detailed image and a blurred copy
    crisp = (np.indices((120, 160)).sum(axis=0) % 8 * 32).astype(np.uint8)
    blurred = cv2.GaussianBlur(crisp, (9, 9), 3)
    # THEN the crisp one is sharper, and a flat one has no sharpness at all
    assert sharpness(crisp) > 4 * sharpness(blurred)
    assert sharpness(np.full((120, 160), 77, dtype=np.uint8)) == 0


# --- one keyframe per scene, near its middle, the sharpest ---------------------------------


def test_every_scene_gets_one_keyframe_in_its_middle_half() -> None:
    # GIVEN four static scenes of various lengths (including a 3-frame one)
    stretches = [
        Stretch(2.0, textured(1), cut=True),
        Stretch(0.12, textured(2), cut=True),
        Stretch(6.0, textured(3), cut=True),
        Stretch(1.0, textured(4), cut=True),
    ]
    # WHEN keyframes are selected
    picks = run(policy(), stretches)
    # THEN exactly one per scene, each in the middle half of its scene
    assert [p.scene_index for p in picks] == [0, 1, 2, 3]
    scenes = [(0, 50), (50, 53), (53, 203), (203, 228)]
    for pick, (start, end) in zip(picks, scenes, strict=True):
        assert start + (end - start) / 4 <= pick.index + 0.5 <= start + 3 * (end - start) / 4


def test_the_sharpest_frame_near_the_middle_wins_over_a_sharper_one_at_the_edge() -> None:
    # GIVEN one 4 s scene (frames 0..99) whose sharpest frame is at its very start (a frozen
    # title), with a moderately sharp frame at 40 and blurry frames elsewhere
    sharp = {3: 1000.0, 40: 50.0}
    # WHEN keyframes are selected
    picks = run(policy(), [Stretch(4.0, textured(1))], score=lambda i: sharp.get(i, 1.0))
    # THEN frame 40 is chosen: the edges of a scene are where transitions blur frames
    assert [p.index for p in picks] == [40]


def test_a_single_frame_scene_gets_its_only_frame() -> None:
    # GIVEN a video of one frame WHEN keyframes are selected THEN that frame is the keyframe
    picks = run(policy(), [Stretch(1 / FPS, textured(1))])
    assert [(p.index, p.scene_index) for p in picks] == [(0, 0)]


# --- extra keyframes in long scenes --------------------------------------------------------


def test_a_long_static_scene_gets_a_single_keyframe() -> None:
    # GIVEN one minute of the same picture WHEN keyframes are selected THEN one is kept
    assert len(run(policy(), [Stretch(60.0, textured(1))])) == 1


def test_a_long_scene_that_changes_gets_extra_keyframes_at_most_one_per_interval() -> None:
    # GIVEN one 60 s scene whose content changes every 3 s (no cut)
    stretches = [Stretch(3.0, textured(seed)) for seed in range(20)]
    # WHEN keyframes are selected with a 10 s interval
    picks = run(policy(max_interval_s=10.0), stretches)
    # THEN there are extra keyframes, all in scene 0, at least 10 s apart
    times = [p.t_s for p in picks]
    assert {p.scene_index for p in picks} == {0}
    assert 3 <= len(picks) <= 60 // 10 + 1
    assert all(b - a >= 10.0 - 1e-9 for a, b in itertools.pairwise(times))


def test_returning_to_an_earlier_view_adds_no_duplicate_keyframe() -> None:
    # GIVEN one scene showing A for 12 s, then B for 12 s, then A again for 12 s
    a, b = textured(1), textured(2)
    stretches = [Stretch(12.0, a), Stretch(12.0, b), Stretch(12.0, a)]
    # WHEN keyframes are selected
    picks = run(policy(max_interval_s=10.0), stretches)
    # THEN A and B are kept once each: the return to A is a near-duplicate
    similar = Similarity().near_duplicates
    shown = [Fingerprint.of(a), Fingerprint.of(b)]
    assert len(picks) == 2
    assert [next(i for i, f in enumerate(shown) if similar(p.fingerprint, f)) for p in picks] == [
        0,
        1,
    ]


def test_distinct_flat_colours_in_one_scene_are_not_merged() -> None:
    # GIVEN one scene (no cut) that is flat red, then flat green, then flat blue, 12 s each
    stretches = [Stretch(12.0, RED), Stretch(12.0, GREEN), Stretch(12.0, BLUE)]
    # WHEN keyframes are selected
    picks = run(policy(max_interval_s=10.0), stretches)
    # THEN each colour keeps its keyframe although flat frames share one perceptual hash
    colours = [tuple(round(c) for c in p.fingerprint.colour) for p in picks]
    assert colours == [(81, 90, 240), (145, 54, 34), (41, 240, 110)]


def test_a_repeated_shot_in_a_new_scene_keeps_its_keyframe() -> None:
    # GIVEN shot A, a cut to B, a cut back to A (a new scene that looks like the first)
    a, b = textured(1), textured(2)
    stretches = [Stretch(2.0, a, cut=True), Stretch(2.0, b, cut=True), Stretch(2.0, a, cut=True)]
    # WHEN keyframes are selected THEN every scene still has its keyframe (coverage first)
    assert [p.scene_index for p in run(policy(), stretches)] == [0, 1, 2]


# --- the cap -------------------------------------------------------------------------------


def test_the_cap_keeps_keyframes_spread_over_the_whole_video() -> None:
    # GIVEN 20 scenes of 1 s in a video known to last 20 s, and a cap of 5
    stretches = [Stretch(1.0, textured(seed), cut=True) for seed in range(20)]
    # WHEN keyframes are selected
    picks = run(policy(max_keyframes=5, duration_s=20.0), stretches)
    # THEN exactly 5 are kept, one in each fifth of the video
    assert len(picks) == 5
    assert [int(p.t_s // 4) for p in picks] == [0, 1, 2, 3, 4]


def test_without_a_known_duration_the_cap_keeps_the_first_keyframes() -> None:
    # GIVEN 10 scenes and a cap of 3 but no duration from the container
    stretches = [Stretch(1.0, textured(seed), cut=True) for seed in range(10)]
    # WHEN keyframes are selected THEN the cap still holds
    assert [p.scene_index for p in run(policy(max_keyframes=3), stretches)] == [0, 1, 2]


def test_a_cap_that_does_not_bind_drops_nothing() -> None:
    # GIVEN 10 scenes in 10 s and a cap of 200
    stretches = [Stretch(1.0, textured(seed), cut=True) for seed in range(10)]
    # THEN all 10 keyframes are kept
    assert len(run(policy(duration_s=10.0), stretches)) == 10


# --- memory --------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [pytest.param(1, id="1-min"), pytest.param(30, id="30-min")])
def test_candidates_held_stay_bounded_whatever_the_scene_length(minutes: int) -> None:
    # GIVEN a single static scene of 1 or 30 minutes
    most = 0

    def watch(selector: KeyframeSelector[int]) -> None:
        nonlocal most
        most = max(most, selector.held)

    # WHEN keyframes are selected, watching how many candidate frames are held
    run(policy(candidates=8), [Stretch(minutes * 60.0, textured(1))], watch=watch)
    # THEN never more than the configured number
    assert most <= 8


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"max_keyframes": 0}, id="no-keyframes"),
        pytest.param({"max_interval_s": 0.0}, id="zero-interval"),
        pytest.param({"candidates": 1}, id="one-candidate"),
    ],
)
def test_a_nonsensical_policy_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="need"):
        policy(**overrides)


def test_offering_before_a_scene_started_is_a_programming_error() -> None:
    selector: KeyframeSelector[int] = KeyframeSelector(policy(), lambda _: 1.0)
    with pytest.raises(RuntimeError, match="start_scene"):
        selector.offer(Candidate(0, 0.0, Fingerprint.of(RED), 0))
