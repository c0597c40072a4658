"""JPEG encoding runs on a worker thread beside decoding; delivery stays on the caller's thread."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from frame_extractor.extraction import ExtractedKeyframe, extract
from frame_extractor.settings import FrameExtractorSettings
from tests.support.clips import make_cut_clip

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

CUTS = [15, 30, 45, 60]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("encoding")
    return make_cut_clip(directory / "cuts.mp4", cut_frames=CUTS, total_frames=75, audio=False)


def jpeg_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("jpeg")]


def test_keyframes_are_delivered_on_the_calling_thread_in_frame_order(clip: Path) -> None:
    # GIVEN a callback that records which thread calls it
    calls: list[tuple[int, ExtractedKeyframe]] = []

    def on_keyframe(keyframe: ExtractedKeyframe) -> None:
        calls.append((threading.get_ident(), keyframe))

    # WHEN extracted
    result = extract(clip, FrameExtractorSettings(), on_keyframe=on_keyframe)
    # THEN every keyframe came through the callback, on this thread, in frame order
    assert [replace(k, jpeg=b"") for _, k in calls] == list(result.keyframes)
    assert {ident for ident, _ in calls} == {threading.get_ident()}
    assert [k.frame for _, k in calls] == sorted(k.frame for _, k in calls)
    assert len(result.keyframes) == len(CUTS) + 1
    # AND the encoder thread is gone
    assert jpeg_threads() == []


def test_an_exception_in_the_callback_stops_the_pass_and_the_encoder(clip: Path) -> None:
    # GIVEN a callback that fails on the second keyframe (an upload that failed)
    seen: list[int] = []

    def on_keyframe(keyframe: ExtractedKeyframe) -> None:
        seen.append(keyframe.frame)
        if len(seen) == 2:
            raise ConnectionError("upload failed")

    # WHEN extracted THEN the callback's exception propagates unchanged
    with pytest.raises(ConnectionError, match="upload failed"):
        extract(clip, FrameExtractorSettings(), on_keyframe=on_keyframe)
    # AND no keyframe was delivered after it, and no encoder thread is left behind
    assert len(seen) == 2
    assert jpeg_threads() == []
