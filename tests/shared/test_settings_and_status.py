"""Settings conventions, stage parsing and the final-status rule."""

from __future__ import annotations

import pytest

from ingest.settings import IngestSettings, requestable_stages
from videosense_shared.document import final_status
from videosense_shared.messages import Stage, StageStatus, VideoStatus
from videosense_shared.settings import CommonSettings, parse_stages


def test_service_settings_read_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOSENSE_PREFIX", "demo")
    monkeypatch.setenv("VIDEOSENSE_INGEST_CONCURRENCY", "7")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_CONCURRENCY", "3")
    settings = IngestSettings()
    assert settings.concurrency == 7
    assert settings.common.prefix == "demo"
    assert settings.common.queue_name("ingest") == "demo-ingest"
    assert settings.common.table_name == "demo-videos"


def test_bad_default_stages_fail_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOSENSE_INGEST_STAGES", "frames,dance")
    with pytest.raises(ValueError, match="dance"):
        IngestSettings()


def test_region_falls_back_to_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEOSENSE_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert CommonSettings().region == "eu-west-1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("frames", (Stage.FRAMES,), id="one"),
        pytest.param(" Frames , transcript,frames", (Stage.FRAMES, Stage.TRANSCRIPT), id="dedup"),
    ],
)
def test_parse_stages(value: str, expected: tuple[Stage, ...]) -> None:
    assert parse_stages(value) == expected


@pytest.mark.parametrize("value", ["", " , ", "frames,dance"])
def test_parse_stages_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="stage"):
        parse_stages(value)


def test_unbuilt_stage_is_not_requestable() -> None:
    with pytest.raises(ValueError, match="not available"):
        requestable_stages("frames,captions")


C, F, S = StageStatus.COMPLETE, StageStatus.FAILED, StageStatus.SKIPPED


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        pytest.param({Stage.FRAMES: C}, VideoStatus.COMPLETE, id="all-complete"),
        pytest.param({Stage.FRAMES: C, Stage.TRANSCRIPT: S}, VideoStatus.COMPLETE, id="skipped"),
        pytest.param({Stage.FRAMES: C, Stage.CAPTIONS: F}, VideoStatus.PARTIAL, id="partial"),
        pytest.param({Stage.FRAMES: F}, VideoStatus.FAILED, id="all-failed"),
        pytest.param({Stage.FRAMES: F, Stage.TRANSCRIPT: S}, VideoStatus.FAILED, id="none-done"),
    ],
)
def test_final_status(stages: dict[Stage, StageStatus], expected: VideoStatus) -> None:
    assert final_status(stages) == expected
