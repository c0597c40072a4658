"""The cutting engine on real media: frames exact at both ends, sound in step, smart cut where
the source allows it and a full re-encode where it does not, MP4 details kept, nothing partial
left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from clipper.cutting import SUPERCUT_NAME, CutError, CutMethod, TimeRange, cut_ranges
from clipper.encoding import EncodeSettings, SpliceError
from clipper.plan import plan_range
from clipper.source_index import index_source
from clipper.writer import write_clip
from tests.clipper.coded_video import burst_onsets, coded_video, expected_frames, frame_numbers

FPS = 25
SECONDS = 12
TOTAL = FPS * SECONDS
AUDIO_FRAME_S = 1024 / 48000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s, 25 fps, closed GOPs of 2 s (IDR every 50 frames), B-frames, AAC clicks."""
    return coded_video(tmp_path_factory.mktemp("src") / "coded.mp4", seconds=SECONDS, gop=50)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (1.3, 6.7),  # partial GOPs at both edges, two whole GOPs copied
        (2.0, 6.0),  # starts and ends exactly on IDR pictures: nothing re-encoded
        (4.52, 9.0),  # ends on an IDR, starts mid-GOP
        (8.1, 12.0),  # runs to the very end of the stream
    ],
)
def test_smart_cut_keeps_exactly_the_requested_frames(
    source: Path, tmp_path: Path, start: float, end: float
) -> None:
    # GIVEN a numbered source WHEN [start, end) is cut
    [result] = cut_ranges(source, [TimeRange(start, end)], tmp_path)
    # THEN the clip holds exactly the frames presented in [start, end), none repeated or lost
    assert frame_numbers(result.path) == expected_frames(start, end, FPS, TOTAL)
    # AND whole GOPs were copied, the rest re-encoded, and the range is reported as cut
    [cut] = result.ranges
    assert cut.method is CutMethod.SMART
    assert cut.copied_frames >= 50
    assert cut.copied_frames + cut.reencoded_frames == cut.frames
    assert cut.start_s == pytest.approx(expected_frames(start, end, FPS, TOTAL)[0] / FPS)
    assert not cut.clamped


def test_clip_audio_stays_in_step_within_one_audio_frame(source: Path, tmp_path: Path) -> None:
    # GIVEN a source with a click at every whole second WHEN 1.3-6.7 s is cut
    [result] = cut_ranges(source, [TimeRange(1.3, 6.7)], tmp_path)
    first = result.ranges[0].start_s
    # THEN each click sits where it was relative to the first frame (1.32 s), within one AAC
    # frame (in fact to the sample)
    onsets = burst_onsets(result.path)
    assert len(onsets) == 5
    for found, second in zip(onsets, range(2, 7), strict=True):
        assert abs(found - (second - first)) < AUDIO_FRAME_S


def test_range_without_a_whole_gop_is_reencoded_with_the_reason(
    source: Path, tmp_path: Path
) -> None:
    # GIVEN a range inside one GOP WHEN it is cut
    [result] = cut_ranges(source, [TimeRange(0.5, 1.5)], tmp_path)
    # THEN every frame was re-encoded, it says why, and the frames are still exact
    [cut] = result.ranges
    assert (cut.method, cut.copied_frames) == (CutMethod.REENCODE, 0)
    assert cut.reason is not None
    assert "no whole GOP" in cut.reason
    assert frame_numbers(result.path) == expected_frames(0.5, 1.5, FPS, TOTAL)


def test_codec_that_cannot_be_spliced_falls_back_to_a_full_reencode(tmp_path: Path) -> None:
    # GIVEN an MPEG-4 Part 2 source (not H.264: nothing to splice H.264 edges into)
    mpeg4 = coded_video(tmp_path / "mpeg4.mp4", seconds=6, codec="mpeg4", gop=25)
    # WHEN a range with whole GOPs inside is cut
    [result] = cut_ranges(mpeg4, [TimeRange(0.3, 3.7)], tmp_path / "out")
    # THEN it was re-encoded to H.264, the reason names the codec, and the frames are exact
    [cut] = result.ranges
    assert cut.method is CutMethod.REENCODE
    assert cut.reason is not None
    assert "mpeg4" in cut.reason
    with av.open(str(result.path)) as clip:
        assert clip.streams.video[0].codec_context.name == "h264"
        assert clip.streams.audio[0].codec_context.name == "aac"
    assert frame_numbers(result.path) == expected_frames(0.3, 3.7, FPS, 150)


def test_full_reencode_on_request_gives_the_same_frames(source: Path, tmp_path: Path) -> None:
    # GIVEN a range that could be smart cut WHEN a full re-encode is asked for
    [result] = cut_ranges(source, [TimeRange(1.3, 6.7)], tmp_path, smart=False)
    # THEN every frame was encoded again, and the clip is frame-identical in content
    [cut] = result.ranges
    assert (cut.method, cut.copied_frames, cut.reencoded_frames) == (CutMethod.REENCODE, 0, 135)
    assert frame_numbers(result.path) == expected_frames(1.3, 6.7, FPS, TOTAL)


def test_range_past_the_end_is_clamped_and_one_beyond_it_is_an_error(
    source: Path, tmp_path: Path
) -> None:
    # WHEN a range runs past the end / THEN it is cut up to the end and reported clamped
    [result] = cut_ranges(source, [TimeRange(10.5, 30.0)], tmp_path / "a")
    assert result.ranges[0].clamped
    assert result.ranges[0].end_s == pytest.approx(SECONDS)
    assert frame_numbers(result.path) == expected_frames(10.5, SECONDS, FPS, TOTAL)
    # WHEN a range starts after the end / THEN nothing is written and the error says why
    with pytest.raises(CutError, match="starts after the end of the video"):
        cut_ranges(source, [TimeRange(1.0, 2.0), TimeRange(13.0, 15.0)], tmp_path / "b")
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def test_supercut_joins_the_ranges_with_a_chapter_each(source: Path, tmp_path: Path) -> None:
    # GIVEN two ranges WHEN they are cut with a supercut
    ranges = [TimeRange(0.5, 1.5), TimeRange(3.3, 8.1)]
    results = cut_ranges(source, ranges, tmp_path, supercut=True)
    # THEN there is one clip per range, then the supercut holding both frame runs
    assert [r.path.name for r in results][-1] == SUPERCUT_NAME
    supercut = results[-1]
    assert frame_numbers(supercut.path) == expected_frames(0.5, 1.5, FPS, TOTAL) + expected_frames(
        3.3, 8.1, FPS, TOTAL
    )
    # AND a chapter per range, starting where the range starts in the file
    with av.open(str(supercut.path)) as clip:
        chapters = clip.chapters()
    starts = [float(c["start"] * (c["time_base"] or 1)) for c in chapters]
    assert starts == pytest.approx([0.0, 1.0])
    assert [r.output_start_s for r in supercut.ranges] == pytest.approx([0.0, 1.0])
    assert supercut.method is CutMethod.SMART
    # AND the clicks of the second range are in step after the join
    second = supercut.ranges[1]
    assert min(abs(t - (1.0 + 4.0 - second.start_s)) for t in burst_onsets(supercut.path)) < (
        AUDIO_FRAME_S
    )


def test_output_is_faststart_mp4_and_keeps_the_rotation(tmp_path: Path) -> None:
    # GIVEN a source shot in portrait (a 90-degree display matrix)
    rotated = coded_video(tmp_path / "rotated.mp4", seconds=5, rotate=90)
    with av.open(str(rotated)) as src:
        rotation = next(src.decode(video=0)).rotation
    assert rotation != 0
    # WHEN it is smart cut and re-encoded
    for smart in (True, False):
        [result] = cut_ranges(rotated, [TimeRange(0.3, 4.7)], tmp_path / str(smart), smart=smart)
        # THEN the clip carries the same rotation
        with av.open(str(result.path)) as clip:
            assert next(clip.decode(video=0)).rotation == rotation
        # AND its index comes before the media (plays while downloading)
        head = result.path.read_bytes()[:4096]
        assert 0 < head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_failed_write_leaves_no_file_behind(source: Path, tmp_path: Path) -> None:
    # GIVEN a plan made for the source, and the source replaced before the copy (the packets
    # the plan lists are not there any more)
    moved = tmp_path / "source.mp4"
    shutil.copy(source, moved)
    index = index_source(moved)
    plan = plan_range(index, TimeRange(1.3, 6.7), smart=True)
    coded_video(moved, seconds=SECONDS, gop=25)
    out = tmp_path / "out"
    out.mkdir()
    # WHEN the clip is written / THEN it fails, and neither the clip nor a temporary is left
    with pytest.raises(SpliceError):
        write_clip(index, [plan], out / "clip.mp4", EncodeSettings())
    assert list(out.iterdir()) == []


def test_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video")
    with pytest.raises(CutError, match="not a readable video"):
        cut_ranges(junk, [TimeRange(0, 1)], tmp_path / "out")
