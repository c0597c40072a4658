"""The redaction stage through the real pipeline on the emulator: ingest, the redactor's own
queue, its topic, the aggregator folding the result into the document; and ``videosense
redact`` end to end in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from tests.redactor.composite import two_people
from tests.support.polling import short_polls
from tests.support.speech import espeak_audio
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, StageStatus, VideoStatus
from videosense_shared.objects import read_bytes


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = two_people(tmp_path_factory.mktemp("pipeline") / "two people.mp4", seconds=2.0)
    return path


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "AGGREGATOR", "REDACTOR", "FRAME_EXTRACTOR", "TRANSCRIBER")
    monkeypatch.setenv("VIDEOSENSE_REDACTOR_PRESET", "ultrafast")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


@pytest.mark.integration
async def test_redaction_lands_in_the_document_and_the_bucket(
    stack: EmbeddedStack, clip: Path, tmp_path: Path
) -> None:
    # GIVEN the two-people clip uploaded with redaction requested
    video_id = await stack.upload(clip, stages=(Stage.REDACTION,))
    # WHEN the pipeline finishes
    event = await stack.wait_completed(video_id, timeout_s=120)
    document = await stack.store.read(video_id)
    # THEN the video is complete and its document points at the redacted copy
    assert event.status == VideoStatus.COMPLETE
    assert document.stages[Stage.REDACTION].status == StageStatus.COMPLETE
    assert document.stages[Stage.REDACTION].backend == "local"
    redaction = document.redaction
    assert redaction is not None
    assert redaction.image.key == f"redacted/{video_id}.mp4"
    assert redaction.frames_with_faces == redaction.frame_count == 50
    # AND the copy in the bucket is an MP4 with every frame and the sound
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(await read_bytes(stack.aws.s3, redaction.image.bucket, redaction.image.key))
    with av.open(str(copy)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
        assert sum(1 for _ in container.decode(video=0)) == 50


@pytest.mark.integration
async def test_audio_alone_completes_with_redaction_skipped(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    sound = espeak_audio(tmp_path / "voice.m4a", "nothing to see here")
    video_id = await stack.upload(sound, stages=(Stage.REDACTION, Stage.TRANSCRIPT))
    await stack.wait_completed(video_id, timeout_s=120)
    document = await stack.store.read(video_id)
    info = document.stages[Stage.REDACTION]
    assert info.status == StageStatus.SKIPPED
    assert info.error is not None
    assert "audio only" in info.error
    assert document.redaction is None


@pytest.mark.e2e
def test_videosense_redact_saves_the_copy(clip: Path, tmp_path: Path) -> None:
    # GIVEN the clip / WHEN `videosense redact --policy all --style blur --out` runs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    env["VIDEOSENSE_REDACTOR_PRESET"] = "ultrafast"
    out = tmp_path / "redacted.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "videosense", "redact", str(clip), "--style", "blur",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    # THEN it succeeds, says what it hid, and the file is the redacted MP4
    assert proc.returncode == 0, proc.stderr
    assert "face(s) hidden on 50 of 50 frames (policy all, blur, local)" in proc.stdout
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 50


@pytest.mark.e2e
def test_videosense_redact_refuses_a_bad_policy(clip: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "videosense", "redact", str(clip), "--policy", "some",
         "--out", str(tmp_path / "x.mp4")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "unknown redaction policy" in proc.stderr
