"""The memory benchmark's report, and which services a LocalStack run starts for its stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bench_memory import TARGET_MB, report
from long_films import EARLY_AT_S, EARLY_SPEECH, LATE_SPEECH, SEGMENT_S, Film
from process_stack import services_for

from videosense_shared.document import DocumentKeyframe, StageInfo, VideoDocument
from videosense_shared.messages import (
    ImageRef,
    Segment,
    SourceRef,
    Stage,
    StageStatus,
    Transcript,
    VideoStatus,
    Word,
)

_T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _keyframe(index: int, t_s: float) -> DocumentKeyframe:
    image = ImageRef(bucket="b", key=f"k{index}.jpg", width=64, height=36)
    return DocumentKeyframe(id=f"kf{index}", frame=int(25 * t_s), t_s=t_s, scene_index=index,
                            image=image)  # fmt: skip


def _spoken(sentence: str, at_s: float, step_s: float) -> Segment:
    words = tuple(
        Word(word=w, start_s=at_s + i * step_s, end_s=at_s + (i + 1) * step_s)
        for i, w in enumerate(sentence.split())
    )
    return Segment(start_s=at_s, end_s=words[-1].end_s, text=sentence, words=words)


def _document(transcript: Transcript) -> VideoDocument:
    return VideoDocument(
        video_id="v1",
        status=VideoStatus.PARTIAL,
        source=SourceRef(bucket="b", key="uploads/film.mp4", etag="e", size_bytes=1),
        created_at=_T0,
        stages={
            Stage.FRAMES: StageInfo(
                status=StageStatus.COMPLETE, started_at=_T0, finished_at=_T0 + timedelta(seconds=12)
            ),
            Stage.RECOGNITION: StageInfo(status=StageStatus.FAILED, error="model missing"),
        },
        keyframes=(_keyframe(0, 0.0), _keyframe(1, 30.0), _keyframe(2, 119.5)),
        transcript=transcript,
    )


def _film() -> Film:
    return Film(path=Path("film.mp4"), seconds=SEGMENT_S, size="1280x720")


def test_report_prints_stage_times_per_minute_keyframe_spread_and_peaks() -> None:
    # GIVEN a two-minute film's document: frames took 12 s, recognition failed, keyframes at
    # 0 s, 30 s and 119.5 s; and the peaks of three processes, one of them tiny
    early = _spoken(EARLY_SPEECH, EARLY_AT_S, 0.5)
    document = _document(Transcript(language="en", text="", segments=(early,)))
    peaks = {"frame_extractor (11)": 900.0, "localstack.runtime.main (10)": 450.0,
             "ffprobe (12)": 5.0}  # fmt: skip

    # WHEN the report is made
    lines = report(_film(), 42.0, document, 60.0, peaks, emulator="localstack", load=(1.0,))
    text = "\n".join(lines)

    # THEN it gives the status and the wall time per minute of video on LocalStack
    assert "2 min at 1280x720 (42 MB) on localstack: status partial, wall 60 s (30.0 s per" in text
    # AND each process of 20 MB and more with its peak, and the largest against the target
    assert any("900 MB" in line and "frame_extractor (11)" in line for line in lines)
    assert any("450 MB" in line and "localstack.runtime.main (10)" in line for line in lines)
    assert not any("ffprobe" in line for line in lines)
    assert f"largest process 900 MB (frame_extractor (11)): within {TARGET_MB} MB" in text
    # AND every stage's time per minute of video, or why it has none
    assert any(line.split()[:4] == ["frames", "12.0", "s", "6.0"] for line in lines)
    assert any(line.split()[:3] == ["recognition", "failed", "model"] for line in lines)
    # AND the keyframes in each tenth of the film
    assert "keyframes 3; per tenth of the film: [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]" in text
    # AND the early sentence heard whole, the late one lost word by word
    assert "early sentence (mid-window): 1 occurrence(s); words lost: 0 []; doubled: 0" in text
    late_words = len(dict.fromkeys(LATE_SPEECH.split()))
    assert f"late sentence (at the window edges): 1 occurrence(s); words lost: {late_words}" in text


def test_report_counts_a_word_heard_twice_at_a_window_edge_as_doubled() -> None:
    # GIVEN the late sentence transcribed whole, then its last word again (a window edge read
    # twice), and a process above the target
    late_at = SEGMENT_S - 14.0
    late = _spoken(LATE_SPEECH, late_at, 0.6)
    again = _spoken("sunset", late_at + 13.0, 0.5)
    document = _document(Transcript(language="en", text="", segments=(late, again)))

    # WHEN the report is made
    lines = report(_film(), 42.0, document, 60.0, {"aggregator (3)": 1500.0},
                   emulator="embedded", load=(1.0,))  # fmt: skip
    text = "\n".join(lines)

    # THEN the doubled word is named with its occurrence's time, nothing is lost
    assert "words lost: 0 []; doubled: 1 ['sunset@106s']" in text
    assert f"largest process 1500 MB (aggregator (3)): OVER {TARGET_MB} MB" in text


def test_services_for_starts_the_stages_services_with_ingest_and_the_aggregator() -> None:
    # GIVEN the memory benchmark's stages WHEN the services are chosen THEN exactly those
    # stages' services run, with ingest and the aggregator, in the registry's order
    assert services_for("frames,recognition,transcript") == (
        "ingest", "frame-extractor", "transcriber", "recognizer", "aggregator",
    )  # fmt: skip
    # AND a keyframe stage brings in the frame extractor
    assert services_for("captions") == ("ingest", "frame-extractor", "captioner", "aggregator")
    assert services_for("frames") == ("ingest", "frame-extractor", "aggregator")


def test_services_for_refuses_an_unknown_stage() -> None:
    # GIVEN a stage that does not exist WHEN the services are chosen THEN a clear error
    with pytest.raises(ValueError, match="subtitles"):
        services_for("frames,subtitles")
