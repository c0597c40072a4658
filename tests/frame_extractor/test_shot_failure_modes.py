"""Shot detection's known failure modes, pinned on small generated clips (seconds each).

Each clip is rendered by ffmpeg from lavfi sources joined at exact frames
(``tests/support/clips.py``), so the truth is the construction. The full comparison with
PySceneDetect on a larger suite is ``bench/bench_shots.py``; these are the cases that once
failed, kept so they cannot come back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from frame_extractor.detection import ContentCutDetector, FadeTest, HistogramTest
from frame_extractor.extraction import extract
from frame_extractor.settings import FrameExtractorSettings
from frame_extractor.thumbnails import FrameSampler, Thumb
from tests.support.clips import Shot, make_cut_clip, render

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

SIZE = (192, 108)
BARS = "smptebars=size={w}x{h}:rate={fps}"
CELLAUTO = "cellauto=rule=30:size={w}x{h}:rate={fps}:seed=5"  # scrolls: every pixel changes
NOISE = "color=c=#808080:size={w}x{h}:rate={fps},noise=alls=90:allf=t+u:all_seed=7"
LIFE = "life=size={w}x{h}:rate={fps}:ratio=0.5:mold=0:seed=3"
MOVING = "testsrc2=size={w}x{h}:rate={fps}"
# A still with photo-like structure: one frame of a fractal, held.
PHOTO = (
    "mandelbrot=size={w}x{h}:rate={fps}:maxiter=200:start_scale=0.6,trim=end_frame=1,"
    "loop=loop=-1:size=1,setpts=N/{fps}/TB"
)


def flashed(source: str, frame: int) -> str:
    """``source`` with one nearly white frame (a camera flash) at shot-local ``frame``."""
    return f"{source},drawbox=x=0:y=0:w=iw:h=ih:color=white@0.85:t=fill:enable='eq(n\\,{frame})'"


def scene_starts(path: Path) -> list[int]:
    return [s.start_frame for s in extract(path, FrameExtractorSettings()).scenes]


def test_a_static_pattern_alternating_with_a_scrolling_cellular_automaton_cuts_every_time(
    tmp_path: Path,
) -> None:
    # GIVEN 1.2 s shots alternating a still test pattern and a full-frame rule-30 automaton,
    # whose every pixel changes every frame (the cut does not stand out from its neighbours)
    shots = [Shot(BARS if i % 2 == 0 else CELLAUTO, 30) for i in range(6)]
    path = render(tmp_path / "cellauto.mp4", shots, size=SIZE, audio=False)
    # WHEN extracted THEN every cut is found, on its first frame
    assert scene_starts(path) == [0, 30, 60, 90, 120, 150]


def test_a_still_photo_followed_by_a_cellular_automaton_is_two_scenes_with_a_keyframe_each(
    tmp_path: Path,
) -> None:
    # GIVEN a still photo for 2 s, then a scrolling cellular automaton
    path = render(
        tmp_path / "photo.mp4", [Shot(PHOTO, 50), Shot(CELLAUTO, 40)], size=SIZE, audio=False
    )
    # WHEN extracted
    result = extract(path, FrameExtractorSettings())
    # THEN the cut is found, and the photo's scene has a keyframe of its own
    assert [s.start_frame for s in result.scenes] == [0, 50]
    assert {k.scene_index for k in result.keyframes} == {0, 1}


def test_cuts_into_and_out_of_noise_are_found(tmp_path: Path) -> None:
    # GIVEN a still, then full-frame temporal noise, then another still
    shots = [Shot(BARS, 30), Shot(NOISE, 30), Shot(PHOTO, 30)]
    path = render(tmp_path / "noise.mp4", shots, size=SIZE, audio=False)
    # WHEN extracted THEN both cuts next to the noise are found exactly
    assert scene_starts(path) == [0, 30, 60]


@pytest.mark.parametrize(
    "source",
    [pytest.param(MOVING, id="moving-test-pattern"), pytest.param(LIFE, id="high-motion-life")],
)
def test_a_flash_is_not_a_cut_even_in_a_shot_that_moves_a_lot(source: str, tmp_path: Path) -> None:
    # GIVEN one shot with a one-frame white flash in its middle
    path = render(tmp_path / "flash.mp4", [Shot(flashed(source, 25), 50)], size=SIZE, audio=False)
    # WHEN extracted THEN the flash starts no scene
    assert scene_starts(path) == [0]


def test_a_fade_through_black_between_motion_and_a_still_is_one_cut_inside_it(
    tmp_path: Path,
) -> None:
    # GIVEN a scrolling automaton fading through black (20 frames) into a still pattern
    path = render(
        tmp_path / "fade.mp4",
        [Shot(CELLAUTO, 50), Shot(BARS, 50)],
        size=SIZE,
        audio=False,
        transitions=[("fadeblack", 20)],
    )
    # WHEN extracted
    starts = scene_starts(path)
    # THEN one scene starts inside the transition (frames 30 to 49), none elsewhere
    assert len(starts) == 2, starts
    assert 30 <= starts[1] < 50


def test_cuts_between_random_textures_and_stills_are_found_on_synthetic_frames() -> None:
    # GIVEN thumbnails alternating 8 frames of a flat picture and 8 of fresh random texture
    # (each texture frame differs from the last as much as a cut would)
    rng = np.random.default_rng(1)

    def texture() -> Thumb:
        y = rng.integers(0, 256, (36, 64)).astype(np.int16)
        return Thumb(y, np.full((18, 32), 120, np.int16), np.full((18, 32), 140, np.int16))

    still = Thumb(*(np.full(shape, 90, np.int16) for shape in ((36, 64), (18, 32), (18, 32))))
    frames = [still if (i // 8) % 2 == 0 else texture() for i in range(48)]
    detector = ContentCutDetector(fade=FadeTest())
    # WHEN detected
    cuts = [c for thumb in frames for c in detector.push(thumb)] + detector.flush()
    # THEN every change between the two is a cut, and nothing inside the texture is
    assert cuts == [8, 16, 24, 32, 40]


def flat(y: int, u: int = 128, v: int = 128) -> Thumb:
    return Thumb(
        *(np.full(s, c, np.int16) for s, c in (((36, 64), y), ((18, 32), u), ((18, 32), v)))
    )


def test_a_one_frame_shot_between_two_others_is_two_cuts() -> None:
    # GIVEN a shot, a single frame of another picture, and a third shot
    frames = [flat(40)] * 10 + [flat(200, 90, 170)] + [flat(120, 170, 90)] * 10
    detector = ContentCutDetector(fade=FadeTest())
    # WHEN detected with the default minimum scene length
    cuts = [c for thumb in frames for c in detector.push(thumb)] + detector.flush()
    # THEN the one-frame shot starts a scene and so does the shot after it
    assert cuts == [10, 11]


def test_a_fade_to_black_in_two_strides_is_one_cut() -> None:
    # GIVEN a picture that goes to black in two big steps (half way, then black), held
    frames = [flat(200, 90, 170)] * 10 + [flat(108, 109, 149)] + [flat(16)] * 10
    detector = ContentCutDetector(fade=FadeTest())
    # WHEN detected
    cuts = [c for thumb in frames for c in detector.push(thumb)] + detector.flush()
    # THEN the middle frame, a step between the two, does not make a scene of its own
    assert cuts == [10]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"threshold": 0}, id="zero-threshold"),
        pytest.param({"threshold": 1.5}, id="threshold-above-one"),
        pytest.param({"ratio": 0.5}, id="ratio-below-one"),
        pytest.param({"spread": 0.9}, id="spread-below-one"),
        pytest.param({"bins": 1}, id="one-bin"),
    ],
)
def test_nonsensical_histogram_parameters_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="histogram test needs"):
        HistogramTest(**options)  # type: ignore[arg-type]


def test_with_the_histogram_test_off_cuts_between_moving_shots_are_still_found(
    tmp_path: Path,
) -> None:
    # GIVEN a clip of moving test sources cut at known frames (as the frame-stage benchmark's)
    cuts = [20, 45, 80, 100]
    path = make_cut_clip(tmp_path / "cuts.mp4", cut_frames=cuts, total_frames=130, audio=False)
    sampler = FrameSampler(256, 480)
    with av.open(str(path)) as container:
        thumbs = [sampler.thumb(frame) for frame in container.decode(video=0)]
    # WHEN detected with the adaptive test alone (no histograms to tell a flash's return)
    detector = ContentCutDetector(fade=FadeTest(), histogram=None)
    found = [c for thumb in thumbs for c in detector.push(thumb)] + detector.flush()
    # THEN every cut is found: motion alone never makes the picture "come back"
    assert found == cuts
