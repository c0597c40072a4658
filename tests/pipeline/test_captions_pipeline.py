"""The captioner in the whole pipeline on the emulator: upload -> frames -> captions ->
document, with a tiny BLIP the test builds, and with a model that cannot load."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from captioner.service import service as captioner_service
from captioner.settings import CaptionerSettings
from tests.fixtures.captioner.tiny_blip import VOCAB, build_tiny_blip
from tests.support.clips import make_cut_clip
from tests.support.polling import short_polls
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, StageStatus, VideoStatus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("models") / "tiny-blip")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "three cuts.mp4"
    return make_cut_clip(path, cut_frames=[20, 45, 70], total_frames=90)


@pytest.fixture
def fast_polls(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "CAPTIONER")
    # Keyframes spread over two chunks, so the captioner handles several messages per video.
    monkeypatch.setenv("VIDEOSENSE_FRAME_EXTRACTOR_CHUNK_SIZE", "2")
    return aws_env


@asynccontextmanager
async def _stack(
    aws_env: dict[str, str], settings: CaptionerSettings
) -> AsyncIterator[EmbeddedStack]:
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[captioner_service(settings)]
    ) as stack:
        yield stack


async def test_every_keyframe_gets_a_caption_from_the_local_model(
    fast_polls: dict[str, str], tiny_blip: Path, clip: Path
) -> None:
    # GIVEN the pipeline with the captioner on a local model directory
    settings = CaptionerSettings(backend="local", model=str(tiny_blip), max_tokens=5, offline=True)
    async with _stack(fast_polls, settings) as stack:
        # WHEN a video asking for frames and captions is uploaded
        video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.CAPTIONS))
        event = await stack.wait_completed(video_id, timeout_s=90)
        document = await stack.store.read(video_id)
    # THEN the video is complete and every keyframe carries a caption written by that model
    assert event.status == VideoStatus.COMPLETE
    assert event.stages[Stage.CAPTIONS] == StageStatus.COMPLETE
    captions = document.stages[Stage.CAPTIONS]
    assert captions.status == StageStatus.COMPLETE
    assert (captions.backend, captions.model) == ("local", str(tiny_blip))
    assert len(document.keyframes) >= 3
    vocabulary = set(VOCAB.read_text().split())
    for keyframe in document.keyframes:
        assert keyframe.caption is not None, f"keyframe {keyframe.id} has no caption"
        words = keyframe.caption.split()
        assert len(words) == 5  # the tiny model writes one word per token, up to max_tokens
        assert set(words) <= vocabulary


async def test_a_model_that_cannot_load_ends_partial_with_the_reason(
    fast_polls: dict[str, str], clip: Path
) -> None:
    # GIVEN the captioner pointed at a hub model that is not cached, with downloads off
    settings = CaptionerSettings(
        backend="local", model="videosense-tests/no-such-captioner", offline=True
    )
    async with _stack(fast_polls, settings) as stack:
        # WHEN a video asking for captions is uploaded
        video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.CAPTIONS))
        event = await stack.wait_completed(video_id, timeout_s=90)
        document = await stack.store.read(video_id)
    # THEN frames complete, captions fail with the reason, the video is partial, no captions
    assert event.status == VideoStatus.PARTIAL
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE
    captions = document.stages[Stage.CAPTIONS]
    assert captions.status == StageStatus.FAILED
    assert captions.error is not None
    assert "videosense-tests/no-such-captioner" in captions.error
    assert "downloads are off" in captions.error
    assert captions.backend == "local"
    assert document.keyframes
    assert all(keyframe.caption is None for keyframe in document.keyframes)
