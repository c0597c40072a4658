"""PySceneDetect behind our CutDetector protocol, fed from the one decode pass."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from frame_extractor.extraction import extract
from frame_extractor.pyscenedetect_detector import PySceneDetectCutDetector, bgr
from frame_extractor.settings import FrameExtractorSettings
from frame_extractor.thumbnails import Thumb
from tests.support.clips import make_cut_clip


def flat(y: int, cb: int, cr: int) -> Thumb:
    """A flat frame in 4:2:0 layout (chroma planes half the size of luma)."""

    def plane(value: int, shape: tuple[int, int]) -> np.ndarray:
        return np.full(shape, value, np.int16)

    return Thumb(plane(y, (36, 64)), plane(cb, (18, 32)), plane(cr, (18, 32)))


@pytest.mark.parametrize(
    ("thumb", "expected"),
    [
        pytest.param(flat(128, 128, 128), (128, 128, 128), id="grey"),
        pytest.param(flat(76, 85, 255), (0, 0, 254), id="red"),
        pytest.param(flat(29, 255, 107), (254, 0, 0), id="blue"),
    ],
)
def test_thumbnails_become_bgr_images_of_the_right_colour(
    thumb: Thumb, expected: tuple[int, int, int]
) -> None:
    # GIVEN a flat thumbnail WHEN turned into the BGR image PySceneDetect wants
    image = bgr(thumb)
    # THEN it has the luma plane's size, three channels, and the colour's BGR value
    assert image.shape == (36, 64, 3)
    assert image.dtype == np.uint8
    assert tuple(int(c) for c in image[10, 10]) == pytest.approx(expected, abs=2)


def test_cuts_are_reported_within_the_announced_delay() -> None:
    # GIVEN PySceneDetect's adaptive detector and a stream with a cut at frame 20
    detector = PySceneDetectCutDetector(fps=25, min_scene_frames=3)
    frames = [flat(40, 100, 150)] * 20 + [flat(200, 160, 90)] * 20
    # WHEN frames are pushed one by one
    reported: dict[int, int] = {}
    for index, thumb in enumerate(frames):
        for cut in detector.push(thumb):
            reported[cut] = index
    for cut in detector.flush():
        reported[cut] = len(frames)
    # THEN the cut is found, and no later than the protocol promises
    assert list(reported) == [20]
    assert reported[20] <= 20 + detector.delay


def test_nonsense_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="need fps"):
        PySceneDetectCutDetector(fps=0)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize("kind", [pytest.param("adaptive"), pytest.param("content")])
def test_the_pyscenedetect_setting_finds_hard_cuts_in_one_pass(
    kind: Literal["adaptive", "content"], tmp_path: Path
) -> None:
    # GIVEN a clip with hard cuts between visually distinct moving shots
    cuts = [25, 60, 90]
    clip = make_cut_clip(tmp_path / "cuts.mp4", cut_frames=cuts, total_frames=120, audio=False)
    # WHEN extracted with detector=pyscenedetect
    settings = FrameExtractorSettings(
        detector="pyscenedetect",
        pyscenedetect_kind=kind,
    )
    result = extract(clip, settings)
    # THEN its scenes start exactly at the cuts, with a keyframe each
    assert [s.start_frame for s in result.scenes] == [0, *cuts]
    assert [k.scene_index for k in result.keyframes] == [0, 1, 2, 3]
