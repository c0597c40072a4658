"""The one-pass pipeline on real encoded clips: scenes, keyframes, JPEGs, bad inputs."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from frame_extractor.extraction import (
    ExtractedKeyframe,
    ExtractionError,
    ExtractionResult,
    extract,
)
from frame_extractor.settings import FrameExtractorSettings
from tests.support.clips import (
    make_colour_clip,
    make_cut_clip,
    make_hue_sweep_clip,
    truncate,
    with_rotation,
)
from tests.support.hostile_media import endless_tiny_video, huge_frame_video, size_switching_video

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

FPS = 25
CUTS = [20, 45, 53, 80, 100, 130, 170]
TOTAL = 200


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="module")
def cut_clip(clips: Path) -> Path:
    """8 s, 320x240, 25 fps, H.264 + AAC, scenes starting at 0 and at every frame in CUTS."""
    return make_cut_clip(clips / "cuts.mp4", cut_frames=CUTS, total_frames=TOTAL)


@pytest.fixture(scope="module")
def cut_result(cut_clip: Path) -> ExtractionResult:
    return extract(cut_clip, FrameExtractorSettings())


def decode_jpeg(keyframe: ExtractedKeyframe) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(keyframe.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def frame_by_ffmpeg(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` as ffmpeg decodes it (independently of PyAV), as BGR."""
    done = subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select=eq(n\\,{index})"),
            *("-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"),
        ],
        capture_output=True,
        check=True,
    )
    image = cv2.imdecode(np.frombuffer(done.stdout, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


# --- scenes --------------------------------------------------------------------------------


def test_scenes_cover_every_frame_contiguously_end_exclusive(cut_result: ExtractionResult) -> None:
    # GIVEN the extraction of a clip with known cuts
    scenes = cut_result.scenes
    # THEN scenes are numbered in order, contiguous, and cover [0, frame_count)
    assert [s.index for s in scenes] == list(range(len(CUTS) + 1))
    assert [(s.start_frame, s.end_frame) for s in scenes] == list(
        zip([0, *CUTS], [*CUTS, TOTAL], strict=True)
    )
    # AND their times are the frames' presentation times; the last ends with the video
    for scene in scenes:
        assert scene.start_s == pytest.approx(scene.start_frame / FPS, abs=1e-3)
        assert scene.end_s == pytest.approx(scene.end_frame / FPS, abs=1e-3)
    assert scenes[-1].end_s == pytest.approx(cut_result.duration_s)


def test_media_facts_come_from_the_decode(cut_result: ExtractionResult) -> None:
    # THEN frame count, rate, size and duration are those of the generated clip
    assert (cut_result.frame_count, cut_result.fps) == (TOTAL, FPS)
    assert (cut_result.width, cut_result.height) == (320, 240)
    assert cut_result.duration_s == pytest.approx(TOTAL / FPS)


# --- keyframes -----------------------------------------------------------------------------


def test_every_scene_has_a_keyframe_in_its_middle_half(cut_result: ExtractionResult) -> None:
    # THEN keyframes are sorted, one per scene here (short scenes, no change inside), each in
    # the middle half of its scene (never a transition frame at an edge)
    keyframes = cut_result.keyframes
    assert [k.frame for k in keyframes] == sorted(k.frame for k in keyframes)
    assert [k.scene_index for k in keyframes] == [s.index for s in cut_result.scenes]
    for keyframe in keyframes:
        scene = cut_result.scenes[keyframe.scene_index]
        length = scene.end_frame - scene.start_frame
        assert length / 4 <= keyframe.frame - scene.start_frame + 0.5 <= 3 * length / 4
        assert keyframe.t_s == pytest.approx(keyframe.frame / FPS, abs=1e-3)


def test_each_jpeg_shows_exactly_its_frame(cut_clip: Path, cut_result: ExtractionResult) -> None:
    # GIVEN the keyframes of the moving test-pattern scenes (every frame differs a little)
    for keyframe in cut_result.keyframes[:2]:
        image = decode_jpeg(keyframe)
        # THEN the JPEG has the announced size ...
        assert image.shape == (keyframe.height, keyframe.width, 3)
        # ... AND resembles ffmpeg's decode of that very frame more than its neighbours
        distances = {
            offset: mean_difference(image, frame_by_ffmpeg(cut_clip, keyframe.frame + offset))
            for offset in (-1, 0, 1)
        }
        assert min(distances, key=lambda offset: distances[offset]) == 0, distances


def test_keyframes_reach_the_callback_in_order_as_they_are_final(cut_clip: Path) -> None:
    # GIVEN a callback that records what it receives
    received: list[ExtractedKeyframe] = []
    # WHEN extracting
    result = extract(cut_clip, FrameExtractorSettings(), on_keyframe=received.append)
    # THEN it got every keyframe, once, in frame order, the keyframes of the result
    assert [replace(k, jpeg=b"") for k in received] == list(result.keyframes)
    # AND the JPEGs were handed over, not kept in the result as well (a long film's would
    # otherwise all be held until the pass ends)
    assert all(k.jpeg.startswith(b"\xff\xd8") for k in received)
    assert all(k.jpeg == b"" for k in result.keyframes)


def test_jpegs_are_downscaled_to_fit_the_maximum_side_keeping_the_aspect(cut_clip: Path) -> None:
    # WHEN extracting with a 100-pixel limit
    result = extract(cut_clip, FrameExtractorSettings(max_image_side=100, jpeg_quality=70))
    # THEN every JPEG is 100x75 (4:3 kept)
    assert {(k.width, k.height) for k in result.keyframes} == {(100, 75)}
    assert {decode_jpeg(k).shape for k in result.keyframes} == {(75, 100, 3)}


def test_a_long_scene_gets_extra_keyframes_only_as_its_content_changes(clips: Path) -> None:
    # GIVEN one 12 s scene of a flat colour whose hue turns 30 degrees a second (no cut)
    path = make_hue_sweep_clip(clips / "sweep.mp4", seconds=12, degrees_per_s=30)
    # WHEN extracting with at most one keyframe per 2 s in a scene
    result = extract(path, FrameExtractorSettings(max_interval_s=2.0))
    # THEN the single scene has several keyframes (flat colours are not merged as duplicates),
    # at least 2 s apart
    times = [k.t_s for k in result.keyframes]
    assert len(result.scenes) == 1
    assert 3 <= len(times) <= 12 // 2 + 1
    assert all(b - a >= 2.0 - 1e-6 for a, b in itertools.pairwise(times))


def test_a_long_static_scene_gets_a_single_keyframe(clips: Path) -> None:
    # GIVEN 12 s of one flat colour WHEN extracting with a 2 s interval THEN one keyframe
    path = make_colour_clip(clips / "static.mp4", colours=[("navy", 300)])
    assert len(extract(path, FrameExtractorSettings(max_interval_s=2.0)).keyframes) == 1


def test_distinct_solid_colour_scenes_each_keep_their_keyframe(clips: Path) -> None:
    # GIVEN four flat-colour scenes, the first and last both red
    colours = [("red", 15), ("lime", 15), ("blue", 15), ("red", 15)]
    path = make_colour_clip(clips / "colours.mp4", colours=colours)
    # WHEN extracting THEN each scene has its keyframe, showing its colour
    result = extract(path, FrameExtractorSettings())
    assert [k.scene_index for k in result.keyframes] == [0, 1, 2, 3]
    bgr = [tuple(int(c) for c in decode_jpeg(k).mean(axis=(0, 1))) for k in result.keyframes]
    expected = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 0, 255)]
    for got, want in zip(bgr, expected, strict=True):
        assert max(abs(g - w) for g, w in zip(got, want, strict=True)) < 12, (got, want)


def test_the_cap_binds_with_an_even_spread(cut_clip: Path) -> None:
    # WHEN extracting the 8-scene clip with at most 3 keyframes
    result = extract(cut_clip, FrameExtractorSettings(max_keyframes=3))
    # THEN 3 are kept, one in each third of the video
    thirds = [int(k.t_s * 3 // result.duration_s) for k in result.keyframes]
    assert thirds == [0, 1, 2]


# --- what real files look like -------------------------------------------------------------


def test_an_odd_sized_video_without_audio_works(clips: Path) -> None:
    # GIVEN a 321x241 clip without audio
    path = make_cut_clip(clips / "odd.mp4", cut_frames=[10], total_frames=25, size=(321, 241))
    # WHEN extracting THEN both scenes are found and JPEGs keep the odd size
    result = extract(path, FrameExtractorSettings())
    assert [s.start_frame for s in result.scenes] == [0, 10]
    assert {(k.width, k.height) for k in result.keyframes} == {(321, 241)}


def test_a_rotated_phone_video_gives_upright_keyframes(clips: Path, cut_clip: Path) -> None:
    # GIVEN the cut clip, and a copy whose metadata says "display rotated by 90 degrees"
    rotated = with_rotation(cut_clip, clips / "portrait.mp4", degrees=90)
    # WHEN both are extracted
    plain, turned = (
        extract(cut_clip, FrameExtractorSettings()),
        extract(rotated, FrameExtractorSettings()),
    )
    # THEN the rotated one reports the display size, and its JPEGs are the plain ones turned
    # upright the way players show them (a quarter turn counter-clockwise)
    assert (turned.width, turned.height) == (240, 320)
    assert [k.frame for k in turned.keyframes] == [k.frame for k in plain.keyframes]
    upright = decode_jpeg(turned.keyframes[0])
    expected = np.rot90(decode_jpeg(plain.keyframes[0]))
    assert upright.shape == expected.shape == (320, 240, 3)
    assert mean_difference(upright, expected) < 3


def test_a_single_frame_video_is_one_scene_with_one_keyframe(clips: Path) -> None:
    path = make_cut_clip(clips / "one.mp4", cut_frames=[], total_frames=1)
    result = extract(path, FrameExtractorSettings())
    assert [(s.start_frame, s.end_frame) for s in result.scenes] == [(0, 1)]
    assert [(k.frame, k.scene_index, k.t_s) for k in result.keyframes] == [(0, 0, 0.0)]


def test_a_truncated_file_that_still_decodes_yields_what_it_has(
    cut_clip: Path, clips: Path
) -> None:
    # GIVEN the first half of an mp4 whose index is at the front (moov first)
    whole = make_cut_clip(
        clips / "faststart.mp4", cut_frames=CUTS, total_frames=TOTAL, faststart=True
    )
    half = truncate(whole, clips / "faststart-half.mp4", keep=0.5)
    # WHEN extracted
    result = extract(half, FrameExtractorSettings())
    # THEN the frames it still holds are analysed: fewer frames, the early cuts exact
    assert 0 < result.frame_count < TOTAL
    found = [s.start_frame for s in result.scenes]
    assert found == [0, *(c for c in CUTS if c < result.frame_count)][: len(found)]
    assert result.scenes[-1].end_frame == result.frame_count


def zero_bytes(directory: Path, _: Path) -> Path:
    path = directory / "empty.mp4"
    path.write_bytes(b"")
    return path


def text_file(directory: Path, _: Path) -> Path:
    path = directory / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


def truncated_index_at_end(directory: Path, clip: Path) -> Path:
    # ffmpeg writes the mp4 index (moov) after the media unless told otherwise: half a file
    # has no index at all.
    return truncate(clip, directory / "truncated.mp4", keep=0.5)


def audio_only(directory: Path, _: Path) -> Path:
    path = directory / "tone.m4a"
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", str(path)]
    subprocess.run(command, check=True)
    return path


def missing(directory: Path, _: Path) -> Path:
    return directory / "gone.mp4"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(zero_bytes, r"the file is empty \(0 bytes\)", id="zero-bytes"),
        pytest.param(text_file, "not a readable video", id="text-file-named-mp4"),
        pytest.param(
            truncated_index_at_end,
            "truncated, corrupt or not a video",
            id="truncated-mp4-index-at-end",
        ),
        pytest.param(audio_only, "the file has no video stream", id="audio-only"),
        pytest.param(missing, "cannot read the file: No such file", id="missing-file"),
    ],
)
def test_files_that_are_not_decodable_videos_fail_with_a_readable_reason(
    make: Callable[[Path, Path], Path], reason: str, tmp_path: Path, cut_clip: Path
) -> None:
    # GIVEN a broken input
    path = make(tmp_path, cut_clip)
    # WHEN extracted THEN ExtractionError says why in words
    with pytest.raises(ExtractionError, match=reason):
        extract(path, FrameExtractorSettings())


# --- hostile inputs: frames over the size limit, endless videos ----------------------------


def test_a_frame_size_over_the_limit_fails_before_anything_is_decoded(cut_clip: Path) -> None:
    # GIVEN a 320x240 clip and a limit one pixel smaller
    settings = FrameExtractorSettings(max_frame_pixels=320 * 240 - 1)
    delivered: list[ExtractedKeyframe] = []
    # WHEN extracted THEN it fails naming the size, the limit and the setting, with no keyframe
    with pytest.raises(ExtractionError) as caught:
        extract(cut_clip, settings, delivered.append)
    assert str(caught.value) == (
        "frame size 320x240 (76800 px) exceeds the limit of 76799 px per frame"
        " (VIDEOSENSE_FRAME_EXTRACTOR_MAX_FRAME_PIXELS)"
    )
    assert delivered == []
    # AND at exactly the limit the clip is extracted
    assert extract(cut_clip, FrameExtractorSettings(max_frame_pixels=320 * 240)).frame_count


def test_a_header_that_lies_about_the_frame_size_is_caught_while_decoding(clips: Path) -> None:
    # GIVEN a video whose header says 32x32 (its first 100 frames) and whose last frames are
    # 128x128, and a limit between the two
    path = size_switching_video(clips / "switching.mkv", small=32, large=128)
    settings = FrameExtractorSettings(max_frame_pixels=64 * 64)
    # WHEN extracted THEN the first large frame fails it with the readable reason
    with pytest.raises(ExtractionError) as caught:
        extract(path, settings)
    assert str(caught.value) == (
        "frame size 128x128 (16384 px) exceeds the limit of 4096 px per frame"
        " (VIDEOSENSE_FRAME_EXTRACTOR_MAX_FRAME_PIXELS)"
    )
    # AND under the default limit the same video is extracted whole
    assert extract(path, FrameExtractorSettings()).frame_count == 105


def test_a_16384_square_video_fails_on_its_header_without_decoding(clips: Path) -> None:
    # GIVEN a 16384x16384 video (FFmpeg itself refuses to decode frames that large)
    path = huge_frame_video(clips / "huge.mov")
    # WHEN extracted with the default limit THEN the reason names the size the header declares
    with pytest.raises(ExtractionError) as caught:
        extract(path, FrameExtractorSettings())
    assert str(caught.value) == (
        "frame size 16384x16384 (268.4 Mpx) exceeds the limit of 35.4 Mpx per frame"
        " (VIDEOSENSE_FRAME_EXTRACTOR_MAX_FRAME_PIXELS)"
    )


def test_a_ten_hour_video_of_tiny_still_frames_ends_with_one_scene_and_one_keyframe(
    clips: Path,
) -> None:
    # GIVEN 10 hours of one flat 2x2 colour, a frame every 10 s (3600 frames, a few hundred KB)
    path = endless_tiny_video(clips / "ten-hours.mp4", hours=10, frame_period_s=10)
    # WHEN extracted
    result = extract(path, FrameExtractorSettings())
    # THEN it finishes with every frame in one scene and a single keyframe: nothing grows with
    # the length of a static video (scenes, keyframes and held frames are bounded)
    assert result.frame_count == 3600
    assert (result.width, result.height) == (2, 2)
    assert result.duration_s == pytest.approx(36_000)
    assert [(s.start_frame, s.end_frame) for s in result.scenes] == [(0, 3600)]
    assert len(result.keyframes) == 1
    assert decode_jpeg(result.keyframes[0]).shape[:2] == (2, 2)
