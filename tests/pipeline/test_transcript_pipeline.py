"""The transcriber in the whole pipeline on the emulator: frames + transcript requested, the
document assembled by the aggregator (pocketsphinx, and the default packaged Whisper model, for
real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from frame_extractor.handler import NO_VIDEO
from tests.support.clips import make_colour_clip
from tests.support.polling import short_polls
from tests.support.speech import SENTENCES, espeak_audio, make_speech_clip, word_accuracy
from transcriber.handler import NO_AUDIO
from transcriber.packaged_model import PACKAGED_BASE
from transcriber.service import service
from transcriber.settings import TranscriberSettings
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, StageStatus, VideoStatus

pytestmark = pytest.mark.integration


def _fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "TRANSCRIBER")


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    _fast_polling(monkeypatch)
    monkeypatch.setenv("VIDEOSENSE_TRANSCRIBER_BACKEND", "pocketsphinx")
    transcriber = service(TranscriberSettings())
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[transcriber]
    ) as running:
        yield running


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech_clip(tmp_path_factory.mktemp("pipeline") / "speech.mp4")


async def test_frames_and_transcript_complete_the_document(
    stack: EmbeddedStack, speech_clip: Path
) -> None:
    # GIVEN a video speaking known sentences, uploaded with frames and transcript requested
    video_id = await stack.upload(speech_clip, stages=(Stage.FRAMES, Stage.TRANSCRIPT))
    # WHEN the pipeline runs
    event = await stack.wait_completed(video_id, timeout_s=120)
    # THEN the document is complete, with the transcript folded in by the aggregator
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    transcript_stage = document.stages[Stage.TRANSCRIPT]
    assert transcript_stage.status == StageStatus.COMPLETE
    assert transcript_stage.backend == "pocketsphinx"
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE
    assert document.transcript is not None
    assert word_accuracy(" ".join(SENTENCES), document.transcript.text) >= 0.8
    assert document.media is not None
    assert len(document.transcript.segments) == len(SENTENCES)
    for segment in document.transcript.segments:
        assert 0 <= segment.start_s < segment.end_s <= document.media.duration_s + 0.05
        assert segment.words


async def test_a_video_without_audio_skips_the_transcript(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # GIVEN a silent video (no audio stream at all) asking for frames and transcript
    clip = make_colour_clip(tmp_path / "mute.mp4", colours=[("red", 20), ("blue", 20)])
    video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.TRANSCRIPT))
    # WHEN the pipeline runs
    event = await stack.wait_completed(video_id, timeout_s=120)
    # THEN the transcript stage is skipped with the reason, and the document still complete
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    stage = document.stages[Stage.TRANSCRIPT]
    assert stage.status == StageStatus.SKIPPED
    assert stage.error == NO_AUDIO
    assert document.transcript is None


async def test_a_whisper_model_that_cannot_load_ends_the_video_partial(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, speech_clip: Path
) -> None:
    # GIVEN the whisper backend pointed at a model directory that does not exist
    _fast_polling(monkeypatch)
    settings = TranscriberSettings(backend="whisper", model=str(tmp_path / "no-model"))
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service(settings)]
    ) as stack:
        video_id = await stack.upload(speech_clip, stages=(Stage.FRAMES, Stage.TRANSCRIPT))
        # WHEN the pipeline runs
        event = await stack.wait_completed(video_id, timeout_s=120)
        document = await stack.store.read(video_id)
    # THEN frames complete, the transcript fails with a readable reason: partial, not stuck
    assert event.status == VideoStatus.PARTIAL
    stage = document.stages[Stage.TRANSCRIPT]
    assert stage.status == StageStatus.FAILED
    assert stage.backend == "whisper"
    assert stage.error is not None
    assert "does not exist" in stage.error
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE


async def test_an_audio_only_upload_gets_a_transcript_and_skips_the_frame_stages(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN the transcriber with its defaults (the packaged Whisper model, nothing configured)
    # and an MP3 of speech with no video at all, asking for frames, recognition and transcript
    _fast_polling(monkeypatch)
    for name in ("BACKEND", "MODEL", "LANGUAGE"):
        monkeypatch.delenv(f"VIDEOSENSE_TRANSCRIBER_{name}", raising=False)
    spoken = "please send the report to my office before noon on friday"
    song = espeak_audio(tmp_path / "memo.mp3", spoken)
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service(TranscriberSettings())]
    ) as stack:
        video_id = await stack.upload(
            song, stages=(Stage.FRAMES, Stage.RECOGNITION, Stage.TRANSCRIPT)
        )
        # WHEN the pipeline runs
        event = await stack.wait_completed(video_id, timeout_s=120)
        document = await stack.store.read(video_id)
    # THEN it is accepted and complete: a transcript, the frame stages skipped with the reason
    assert event.status == VideoStatus.COMPLETE
    assert document.media is not None
    assert not document.media.has_video
    assert document.media.has_audio
    frames = document.stages[Stage.FRAMES]
    assert frames.status == StageStatus.SKIPPED
    assert frames.error == NO_VIDEO
    assert document.stages[Stage.RECOGNITION].status == StageStatus.SKIPPED
    transcript_stage = document.stages[Stage.TRANSCRIPT]
    assert transcript_stage.status == StageStatus.COMPLETE
    assert transcript_stage.backend == "whisper"
    assert transcript_stage.model == PACKAGED_BASE
    assert document.transcript is not None
    assert document.transcript.language == "en"
    heard = "".join(c for c in document.transcript.text.lower() if c.isalnum() or c.isspace())
    assert word_accuracy(spoken, heard) >= 0.8, document.transcript.text
    assert not document.keyframes
