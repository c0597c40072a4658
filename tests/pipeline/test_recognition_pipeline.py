"""The recognizer in the whole pipeline on the emulator: a clip with a title card in one scene
and the astronaut in the next ends with the text and a face in the right keyframes."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest

from recognizer.service import service
from tests.support.clips import ffmpeg_binary
from tests.support.pictures import astronaut, pil_text
from tests.support.polling import short_polls
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, StageStatus, VideoStatus

pytestmark = pytest.mark.integration

PHRASE = "Mission briefing"
SIZE = (640, 360)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of a title card, then 2 s of the astronaut (centred on a dark frame), 25 fps H.264."""
    folder = tmp_path_factory.mktemp("recognizer-clip")
    card = folder / "card.png"
    portrait = folder / "astronaut.png"
    cv2.imwrite(str(card), pil_text(PHRASE, SIZE))
    face = cv2.resize(astronaut(), (SIZE[1], SIZE[1]))
    canvas = cv2.copyMakeBorder(
        face, 0, 0, (SIZE[0] - SIZE[1]) // 2, (SIZE[0] - SIZE[1]) // 2, cv2.BORDER_CONSTANT
    )
    cv2.imwrite(str(portrait), canvas)
    out = folder / "card then astronaut.mp4"
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
            "-loop", "1", "-framerate", "25", "-t", "2", "-i", str(card),
            "-loop", "1", "-framerate", "25", "-t", "2", "-i", str(portrait),
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(out),
        ],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture
def fast_polling(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "RECOGNIZER")
    # One keyframe per FramesExtracted: the recognizer answers each chunk on its own and the
    # aggregator must count both before recognition completes.
    monkeypatch.setenv("VIDEOSENSE_FRAME_EXTRACTOR_CHUNK_SIZE", "1")


@pytest.fixture
async def stack(aws_env: dict[str, str], fast_polling: None) -> AsyncIterator[EmbeddedStack]:
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service()]
    ) as running:
        yield running


async def test_text_and_face_land_in_the_right_keyframes(stack: EmbeddedStack, clip: Path) -> None:
    # GIVEN the clip uploaded with frames and recognition requested
    video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.RECOGNITION))
    # WHEN the pipeline finishes
    event = await stack.wait_completed(video_id, timeout_s=90)
    document = await stack.store.read(video_id)
    # THEN the video is complete and the document says which backend and features ran
    assert event.status == VideoStatus.COMPLETE
    recognition = document.stages[Stage.RECOGNITION]
    assert recognition.status == StageStatus.COMPLETE
    assert recognition.backend == "local"
    assert recognition.features == ("labels", "faces", "text", "people")
    # AND the title card's keyframes read the phrase and show no face,
    assert [s.index for s in document.scenes] == [0, 1]
    card = [k for k in document.keyframes if k.scene_index == 0]
    portrait = [k for k in document.keyframes if k.scene_index == 1]
    assert card
    assert portrait
    for keyframe in card:
        assert PHRASE in [t.text for t in keyframe.text]
        assert keyframe.faces == ()
    # AND the astronaut's keyframes have her face, boxed in the middle third of the frame
    for keyframe in portrait:
        assert len(keyframe.faces) == 1
        box = keyframe.faces[0].box
        assert 1 / 3 < box.left + box.width / 2 < 2 / 3
        assert PHRASE not in [t.text for t in keyframe.text]


async def test_face_search_without_gallery_photos_ends_partial_with_the_reason(
    aws_env: dict[str, str],
    fast_polling: None,
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # GIVEN a recognizer configured for face search with the local backend, and no gallery
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_FEATURES", "faces,face_search")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service()]
    ) as stack:
        # WHEN a video asks for recognition
        video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.RECOGNITION))
        event = await stack.wait_completed(video_id, timeout_s=90)
        document = await stack.store.read(video_id)
    # THEN the frames are there, recognition failed with a readable reason, the video is partial
    assert event.status == VideoStatus.PARTIAL
    assert document.stages[Stage.FRAMES].status == StageStatus.COMPLETE
    recognition = document.stages[Stage.RECOGNITION]
    assert recognition.status == StageStatus.FAILED
    assert recognition.backend == "local"
    assert recognition.error is not None
    assert "face search needs photos in the local face gallery" in recognition.error
