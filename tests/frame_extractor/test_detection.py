"""Scene detection: the detector on synthetic frames, then scene accuracy on real encoded clips.

Ground truth is data: each clip is generated with ffmpeg so that its scenes change exactly at
known frames (see ``tests/support/clips.py``), encoded with a long GOP and x264's scene-cut
detection off, so cuts are not I-frames and B-frames reorder decoding around them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_extractor.detection import ContentCutDetector, FadeTest
from frame_extractor.extraction import extract
from frame_extractor.settings import FrameExtractorSettings
from frame_extractor.thumbnails import Thumb
from tests.support.clips import SCENE_SOURCES, Shot, make_colour_clip, make_cut_clip, render

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def frame(y: float, u: float = 128, v: float = 128, *, seed: int | None = None) -> Thumb:
    """A synthetic frame: flat, or (with ``seed``) a flat level plus a little noise."""
    shape = (30, 40)
    noise = np.zeros(shape) if seed is None else np.random.default_rng(seed).normal(0, 1, shape)

    def plane(level: float) -> np.ndarray:
        return (level + noise).clip(0, 255).astype(np.int16)

    return Thumb(plane(y), plane(u), plane(v))


def textured(seed: int, scale: float = 1.0) -> Thumb:
    """A synthetic frame with structure (random blocks), faded to black by ``scale``."""
    blocks = np.random.default_rng(seed).uniform(30, 220, (6, 8, 3))
    image = np.kron(blocks, np.ones((10, 10, 1)))  # 60x80, blocks of 10x10 pixels
    y = (image[..., 0] * scale).clip(0, 255).astype(np.int16)
    u, v = (128 + (image[::2, ::2, c] - 128) * scale for c in (1, 2))
    return Thumb(y, u.astype(np.int16), v.astype(np.int16))


def blend(a: Thumb, b: Thumb, weight: float) -> Thumb:
    """``a`` dissolving into ``b``: ``weight`` 0 is ``a``, 1 is ``b``."""

    def mix(p: np.ndarray | None, q: np.ndarray | None) -> np.ndarray:
        assert p is not None
        assert q is not None
        return np.round(p * (1 - weight) + q * weight).astype(np.int16)

    return Thumb(mix(a.y, b.y), mix(a.u, b.u), mix(a.v, b.v))


def detect(frames: Sequence[Thumb], **options: object) -> list[int]:
    options.setdefault("fade", FadeTest())
    detector = ContentCutDetector(**options)  # type: ignore[arg-type]
    cuts: list[int] = []
    for thumb in frames:
        cuts += detector.push(thumb)
    return cuts + detector.flush()


# --- the detector on synthetic frames ------------------------------------------------------


def test_a_hard_cut_is_found_on_the_first_frame_of_the_new_shot() -> None:
    # GIVEN 10 noisy dark frames then 10 noisy bright ones
    frames = [frame(40, seed=i) for i in range(10)] + [frame(200, seed=i) for i in range(10)]
    # WHEN detected THEN the cut is exactly frame 10
    assert detect(frames) == [10]


def test_a_hue_only_change_between_flat_colours_is_a_cut() -> None:
    # GIVEN flat frames of equal luma whose chroma changes (e.g. red to green at equal value)
    frames = [frame(128, 90, 200)] * 8 + [frame(128, 170, 60)] * 8
    # WHEN detected THEN the change of hue alone is a cut
    assert detect(frames) == [8]


def test_steady_fast_motion_is_not_a_cut() -> None:
    # GIVEN frames that all differ strongly from their predecessor (a whip pan, flicker)
    frames = [frame(60 + (i % 2) * 60, seed=i) for i in range(30)]
    # WHEN detected THEN nothing stands out, so nothing is cut
    assert detect(frames) == []


def test_a_cut_into_fast_motion_is_still_found_when_it_stands_out() -> None:
    # GIVEN a static shot, then a cut to a shot with strong motion
    frames = [frame(50, seed=0)] * 10 + [frame(150 + (i % 2) * 16, seed=i) for i in range(10)]
    # WHEN detected THEN the cut is found exactly
    assert detect(frames) == [10]


def test_cuts_closer_than_the_minimum_scene_length_keep_the_earlier_one() -> None:
    # GIVEN cuts at 10 and 11 (a one-frame scene)
    frames = [frame(30)] * 10 + [frame(220)] + [frame(120)] * 10
    # WHEN detected with scenes of at least 3 frames THEN only the first counts
    assert detect(frames, min_scene_frames=3) == [10]
    # AND with scenes of one frame allowed, both are found
    assert detect(frames, min_scene_frames=1) == [10, 11]


@pytest.mark.parametrize("length", [pytest.param(n, id=f"{n}-frames") for n in (8, 20, 40)])
def test_a_dissolve_gets_one_cut_inside_it(length: int) -> None:
    # GIVEN 30 frames of one picture, a dissolve of `length` frames, 30 frames of another
    a, b = textured(1), textured(2)
    dissolve = [blend(a, b, (i + 1) / (length + 1)) for i in range(length)]
    frames = [a] * 30 + dissolve + [b] * 30
    # WHEN detected THEN exactly one cut, inside the dissolve
    cuts = detect(frames)
    assert len(cuts) == 1
    assert 30 <= cuts[0] < 30 + length


def test_a_fade_out_and_in_through_black_is_one_cut() -> None:
    # GIVEN a picture fading to black over 12 frames, and another fading in from black
    a, b = textured(1), textured(2)
    out = [textured(1, 1 - (i + 1) / 12) for i in range(12)]
    back = [textured(2, (i + 1) / 12) for i in range(12)]
    frames = [a] * 30 + out + back + [b] * 30
    # WHEN detected THEN one cut, inside the fade
    cuts = detect(frames)
    assert len(cuts) == 1
    assert 30 <= cuts[0] < 54


def test_without_the_fade_test_a_dissolve_is_not_a_cut() -> None:
    # GIVEN a slow dissolve (each frame changes too little for a hard cut)
    a, b = textured(1), textured(2)
    frames = [a] * 30 + [blend(a, b, (i + 1) / 31) for i in range(30)] + [b] * 30
    # WHEN detected with the fade test off THEN nothing is found (the fade test does the work)
    assert detect(frames, fade=None) == []


def test_a_slow_pan_over_smooth_content_is_not_a_dissolve() -> None:
    # GIVEN a smooth picture (soft clouds) moving by one pixel per frame, as in a pan over sky
    noise = np.random.default_rng(3).uniform(0, 255, (60, 220)).astype(np.float32)
    clouds = cv2.GaussianBlur(noise, (0, 0), 8)
    clouds = (clouds - clouds.min()) / (clouds.max() - clouds.min()) * 200 + 20

    def view(x: int) -> Thumb:
        y = clouds[:, x : x + 80].astype(np.int16)
        return Thumb(y, y[::2, ::2] // 2 + 64, y[::2, ::2] // 3 + 80)

    frames = [view(x) for x in range(140)]
    # WHEN detected THEN no cut: every frame is the previous one shifted
    assert detect(frames) == []


@pytest.mark.parametrize(
    "flash", [pytest.param(1, id="1-frame-flash"), pytest.param(2, id="2-frame-flash")]
)
def test_a_flash_is_not_a_cut(flash: int) -> None:
    # GIVEN a shot interrupted by `flash` nearly white frames (a camera flash)
    a = textured(1)
    frames = [a] * 20 + [frame(235, seed=9)] * flash + [a] * 20
    # WHEN detected THEN no cut (the picture comes back within the look-ahead)
    assert detect(frames) == []
    # AND without flash suppression the flash starts a scene
    assert detect(frames, suppress_flashes=False, min_scene_frames=1)[0] == 20


def test_decisions_arrive_within_the_announced_delay() -> None:
    # GIVEN a detector and a stream with a cut at frame 5
    detector = ContentCutDetector(window=2)
    frames = [frame(30)] * 5 + [frame(220)] * 5
    # WHEN frames are pushed one by one
    reported_at = {}
    for index, thumb in enumerate(frames):
        for cut in detector.push(thumb):
            reported_at[cut] = index
    # THEN the cut is reported as soon as its look-ahead is complete, not later
    assert reported_at == {5: 5 + detector.delay}


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"threshold": 0}, id="zero-threshold"),
        pytest.param({"ratio": 0.5}, id="ratio-below-one"),
        pytest.param({"window": 0}, id="no-window"),
        pytest.param({"weights": (0, 0, 0)}, id="zero-weights"),
    ],
)
def test_nonsensical_parameters_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        ContentCutDetector(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"threshold": 0}, id="zero-threshold"),
        pytest.param({"monotony": 1.5}, id="monotony-above-one"),
        pytest.param({"max_frames": 2}, id="too-short"),
    ],
)
def test_nonsensical_fade_parameters_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="fade test needs"):
        FadeTest(**options)  # type: ignore[arg-type]


# --- scene accuracy on encoded clips -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A generated clip and the frames its scenes must start at."""

    make: Callable[[Path], Path]
    starts: list[int]
    settings: dict[str, object] = field(default_factory=dict)


def cut_clip(
    name: str,
    cuts: list[int],
    total: int,
    settings: dict[str, object] | None = None,
    **options: object,
) -> Case:
    def make(directory: Path) -> Path:
        return make_cut_clip(
            directory / name,
            cut_frames=cuts,
            total_frames=total,
            **options,  # type: ignore[arg-type]
        )

    return Case(make, [0, *cuts], settings or {})


def colour_clip(name: str, colours: list[tuple[str, int]]) -> Case:
    def make(directory: Path) -> Path:
        return make_colour_clip(directory / name, colours=colours)

    starts = [sum(n for _, n in colours[:i]) for i in range(len(colours))]
    return Case(make, starts)


CASES = [
    pytest.param(
        cut_clip("cuts.mp4", [20, 45, 53, 80, 100, 130, 170], 200), id="7-hard-cuts-h264-audio"
    ),
    pytest.param(
        cut_clip("noloop.mp4", [20, 45, 53, 80, 100, 130, 170], 200, {"skip_loop_filter": True}),
        id="7-hard-cuts-decoded-without-loop-filter",
    ),
    pytest.param(cut_clip("short.mp4", [30, 33, 60], 90), id="3-frame-scene"),
    pytest.param(
        cut_clip("odd.mp4", [17, 40], 60, size=(321, 241), audio=False), id="odd-size-321x241"
    ),
    pytest.param(cut_clip("tenbit.mkv", [25, 50], 75, pix_fmt="yuv420p10le"), id="10-bit-h264-mkv"),
    pytest.param(cut_clip("vp9.webm", [25, 50], 75, codec="libvpx-vp9"), id="vp9-webm"),
    pytest.param(cut_clip("mpeg4.mp4", [25, 50], 75, codec="mpeg4"), id="mpeg4-part2"),
    pytest.param(
        cut_clip("bgr.mkv", [25, 50], 75, codec="ffv1", pix_fmt="bgr0", audio=False),
        id="rgb-pixels-ffv1",
    ),
    pytest.param(
        cut_clip("gray.mkv", [25, 50], 75, codec="ffv1", pix_fmt="gray", audio=False),
        id="gray-ffv1",
    ),
    pytest.param(
        cut_clip("nv12.nut", [25, 50], 75, codec="rawvideo", pix_fmt="nv12", audio=False),
        id="nv12-rawvideo",
    ),
    pytest.param(cut_clip("fps30.mp4", [31, 62], 90, fps=30), id="30-fps"),
    pytest.param(cut_clip("one.mp4", [], 1), id="single-frame"),
    pytest.param(
        colour_clip("hues.mp4", [("#ff0000", 20), ("#00ff00", 20), ("#0000ff", 20), ("red", 20)]),
        id="flat-colours-hue-only",
    ),
    pytest.param(
        colour_clip("greys.mp4", [("#303030", 15), ("#505050", 15), ("#303030", 15)]),
        id="flat-greys-small-step",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_scenes_start_exactly_at_the_known_cuts(case: Case, tmp_path: Path) -> None:
    # GIVEN a clip with scene changes at known frames
    path = case.make(tmp_path)
    # WHEN extracted
    result = extract(path, FrameExtractorSettings(**case.settings))  # type: ignore[arg-type]
    # THEN its scenes start exactly there
    assert [s.start_frame for s in result.scenes] == case.starts


# --- gradual transitions on encoded clips ---------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("fade", id="cross-dissolve"),
        pytest.param("fadeblack", id="fade-through-black"),
        pytest.param("fadewhite", id="fade-through-white"),
    ],
)
@pytest.mark.parametrize("frames", [pytest.param(n, id=f"{n}-frames") for n in (10, 24)])
def test_each_gradual_transition_gets_one_cut_inside_it(
    kind: str, frames: int, tmp_path: Path
) -> None:
    # GIVEN four moving shots of 80 frames: two joined by `kind` transitions, then a hard cut
    shots = [Shot(SCENE_SOURCES[i], 80) for i in range(4)]
    transitions = [(kind, frames), (kind, frames), ("fade", 0)]
    path = render(tmp_path / f"{kind}.mp4", shots, transitions=transitions, audio=False)
    first = (80 - frames, 80)
    second = (160 - 2 * frames, 160 - frames)
    hard = 240 - 2 * frames
    # WHEN extracted
    starts = [s.start_frame for s in extract(path, FrameExtractorSettings()).scenes]
    # THEN one scene starts inside each transition, and the hard cut is exact
    assert len(starts) == 4, starts
    assert first[0] <= starts[1] < first[1]
    assert second[0] <= starts[2] < second[1]
    assert starts[3] == hard
