"""The frame stage on awkward streams: one that starts mid-GOP, one with a variable frame rate.

Ground truth is the generator's: the known cut frames, and presentation times that the clip
was written with (compared with what ffprobe reports, independently of PyAV).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from frame_extractor.extraction import ExtractionResult, extract
from frame_extractor.settings import FrameExtractorSettings
from tests.support.clips import drop_leading_packets, make_cut_clip, retime

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

FPS = 25


def ffprobe_frame_times(path: Path) -> list[float]:
    """Presentation times (s, from the stream's start) of the frames ffmpeg decodes."""
    done = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0"),
            *("-show_entries", "frame=pts_time:stream=start_time", "-of", "csv=p=0", str(path)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.strip().strip(",") for line in done.stdout.splitlines() if line.strip()]
    times = [float(line) for line in lines]
    # ffprobe prints the frames, then the stream's start_time.
    start = times.pop()
    return [t - start for t in times]


@pytest.fixture(scope="module")
def mid_gop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExtractionResult]:
    """A clip with cuts at 40 and 70 and a keyframe every 25 frames, minus its first 10 packets."""
    directory = tmp_path_factory.mktemp("midgop")
    whole = make_cut_clip(directory / "whole.mp4", cut_frames=[40, 70], total_frames=100, gop=25)
    clip = drop_leading_packets(whole, directory / "mid-gop.mp4", count=10)
    return clip, extract(clip, FrameExtractorSettings())


def test_a_video_starting_mid_gop_keeps_the_frames_ffmpeg_can_decode(
    mid_gop: tuple[Path, ExtractionResult],
) -> None:
    # GIVEN a stream whose first packets reference frames that were cut off
    clip, result = mid_gop
    # WHEN extracted THEN exactly the frames ffmpeg can decode are counted
    times = ffprobe_frame_times(clip)
    assert result.frame_count == len(times)
    # AND the first of them is the next keyframe (frame 25 of the original)
    assert result.frame_count == 75


def test_a_video_starting_mid_gop_has_exact_cuts_and_stream_times(
    mid_gop: tuple[Path, ExtractionResult],
) -> None:
    # GIVEN the mid-GOP clip, whose first decodable frame was frame 25 of the original
    clip, result = mid_gop
    times = ffprobe_frame_times(clip)
    # THEN the cuts (originally at 40 and 70) are exact in decoded frames
    assert [s.start_frame for s in result.scenes] == [0, 15, 45]
    # AND scene and keyframe times are the frames' presentation times in the stream
    assert [s.start_s for s in result.scenes] == pytest.approx(
        [times[s.start_frame] for s in result.scenes], abs=1e-3
    )
    assert result.keyframes
    for keyframe in result.keyframes:
        assert keyframe.t_s == pytest.approx(times[keyframe.frame], abs=1e-3)


# Frames 0-49 at 25 fps, then 10 fps: the second half lasts 2.5 times as long per frame.
VFR_EXPR = "if(lt(N,50),N/25,2+(N-50)/10)"


def vfr_time(frame: int) -> float:
    return frame / 25 if frame < 50 else 2 + (frame - 50) / 10


@pytest.fixture(scope="module")
def vfr(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExtractionResult]:
    """100 frames with cuts at 30 and 75, the first 50 at 25 fps and the rest at 10 fps."""
    directory = tmp_path_factory.mktemp("vfr")
    cfr = make_cut_clip(directory / "cfr.mp4", cut_frames=[30, 75], total_frames=100, audio=False)
    clip = retime(cfr, directory / "vfr.mp4", pts_expr=VFR_EXPR)
    return clip, extract(clip, FrameExtractorSettings())


def test_variable_frame_rate_cuts_are_exact_in_frames_and_in_seconds(
    vfr: tuple[Path, ExtractionResult],
) -> None:
    # GIVEN a variable-frame-rate clip (checked: ffprobe sees the times it was written with)
    clip, result = vfr
    assert ffprobe_frame_times(clip) == pytest.approx([vfr_time(n) for n in range(100)], abs=1e-3)
    # WHEN extracted THEN scenes start at the cut frames, at those frames' own times
    assert [s.start_frame for s in result.scenes] == [0, 30, 75]
    assert [s.start_s for s in result.scenes] == pytest.approx([0, 1.2, 4.5], abs=1e-3)
    # AND scenes end where the next starts, the last at the end of the last frame (+0.1 s)
    assert [s.end_s for s in result.scenes] == pytest.approx([1.2, 4.5, 7.0], abs=1e-3)
    assert result.frame_count == 100
    assert result.duration_s == pytest.approx(7.0, abs=1e-3)


def test_variable_frame_rate_keyframes_carry_their_own_frame_times(
    vfr: tuple[Path, ExtractionResult],
) -> None:
    # GIVEN the variable-frame-rate clip's keyframes
    _, result = vfr
    # THEN one per scene, each stamped with its frame's presentation time (not frame / fps)
    assert [k.scene_index for k in result.keyframes] == [0, 1, 2]
    for keyframe in result.keyframes:
        assert keyframe.t_s == pytest.approx(vfr_time(keyframe.frame), abs=1e-3)
