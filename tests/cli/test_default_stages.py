"""What ``videosense run`` analyses when no stages are asked for."""

from __future__ import annotations

import pytest

from videosense.embedded import default_run_stages
from videosense_shared.messages import Stage

EVERYTHING_OFFLINE = (Stage.FRAMES, Stage.RECOGNITION, Stage.TRANSCRIPT)


def test_without_a_captioning_model_every_other_stage_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no captioner configured (its local default would need a download)
    for name in ("VIDEOSENSE_CAPTIONER_BACKEND", "VIDEOSENSE_CAPTIONER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    # WHEN / THEN the default run is every stage that runs offline with the packaged models
    assert default_run_stages() == EVERYTHING_OFFLINE


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("VIDEOSENSE_CAPTIONER_BACKEND", "bedrock", id="a-remote-backend"),
        pytest.param("VIDEOSENSE_CAPTIONER_MODEL", "/models/blip", id="a-local-model"),
    ],
)
def test_a_configured_captioner_adds_captions(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    # GIVEN a captioning backend or model configured
    monkeypatch.setenv(name, value)
    # WHEN / THEN captions run too, in the stages' own order
    assert default_run_stages() == (Stage.FRAMES, Stage.CAPTIONS, *EVERYTHING_OFFLINE[1:])
