"""``videosense find`` over what a real pipeline indexed: a clip with two title cards goes
through frames + recognition (local backend) on the emulator and the indexer, then
``find --text`` reports each phrase at the keyframes of its own scene, from the search index
(not from the documents); a face indexed with ``faces index`` is found by ``find --person``
after local face search."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest

from recognizer.service import service
from tests.support.command_line import cli
from tests.support.pictures import SKIMAGE_DATA, astronaut, concat_cards, pil_text, two_cards_clip
from tests.support.polling import short_polls
from videosense.cli import main
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, VideoStatus

pytestmark = pytest.mark.integration

SIZE = (640, 360)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_cards_clip(tmp_path_factory.mktemp("find-clip"))


@pytest.fixture
def crew_clip(tmp_path: Path) -> Path:
    """1 s of a title card, then 2 s of the astronaut's portrait centred on a dark frame."""
    portrait = tmp_path / "portrait.png"
    face = cv2.resize(astronaut(), (SIZE[1], SIZE[1]))
    side = (SIZE[0] - SIZE[1]) // 2
    cv2.imwrite(str(portrait), cv2.copyMakeBorder(face, 0, 0, side, side, cv2.BORDER_CONSTANT))
    card = tmp_path / "card.png"
    cv2.imwrite(str(card), pil_text("Crew", SIZE))
    return concat_cards(tmp_path / "crew.mp4", (card, 1), (portrait, 2))


@pytest.fixture(autouse=True)
def search_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The library index of this test: the stack's indexer writes it, the command reads it."""
    path = tmp_path / "search.sqlite"
    monkeypatch.setenv("VIDEOSENSE_SEARCH_INDEX_PATH", str(path))
    return path


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "RECOGNIZER", "INDEXER")
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service()]
    ) as running:
        yield running


async def test_find_text_reports_each_phrase_at_its_scene(
    stack: EmbeddedStack, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the clip analysed to the end with frames and recognition, and indexed
    video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.RECOGNITION))
    event = await stack.wait_completed(video_id, timeout_s=90)
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    await stack.wait_indexed(document, timeout_s=30)
    by_scene = {
        scene: [(k.t_s, k.id, k.image.key) for k in document.keyframes if k.scene_index == scene]
        for scene in (0, 1)
    }
    assert by_scene[0]
    assert by_scene[1]
    # AND the documents are gone from the bucket: find must not need them
    await stack.aws.s3.delete_object(Bucket=stack.common.bucket, Key=f"documents/{video_id}.json")

    # WHEN the first card's word is searched, in another case
    code, out, err = await cli(capsys, "find", "--text", "BRIEFING", "--json")
    # THEN exactly the first scene's keyframes are listed, with time, keyframe and JPEG key
    assert code == 0, err
    results = json.loads(out)
    assert [v["video_id"] for v in results["videos"]] == [video_id]
    hits = results["videos"][0]["hits"]
    assert sorted((h["t_s"], h["keyframe_id"], h["image"]["key"]) for h in hits) == by_scene[0]
    assert {h["scene_index"] for h in hits} == {0}
    assert all("<mark>briefing</mark>" in h["snippet"].lower() for h in hits)

    # WHEN the second card's phrase is searched in that video, as readable text
    code, out, err = await cli(capsys, "find", "--text", "weather report", "--video", video_id)
    # THEN the second scene's keyframes are printed with their S3 keys
    assert code == 0, err
    for _, _, key in by_scene[1]:
        assert f"s3://{stack.common.bucket}/{key}" in out
    for _, _, key in by_scene[0]:
        assert key not in out

    # WHEN a label no backend produced is searched / THEN nothing matches, and that is no error
    code, out, err = await cli(capsys, "find", "--label", "Car", "--json")
    assert (code, json.loads(out)["videos"]) == (0, [])
    assert "0 match(es)" in err


async def test_find_in_an_unknown_video_fails_with_the_reason(
    stack: EmbeddedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a running stack with no video of that id
    # WHEN find is asked to search it
    code, out, err = await cli(capsys, "find", "--text", "x", "--video", "no-such-video")
    # THEN it fails (exit 1) saying the video is not in the index
    assert code == 1
    assert out == ""
    assert "no-such-video is not in the search index" in err


async def test_find_person_after_indexing_her_with_the_faces_command(
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    crew_clip: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the astronaut and a coffee cup indexed into the local gallery with `faces index`,
    # and nothing else configured: face search runs by default with the packaged face models
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_BACKEND", "local")
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_FACE_GALLERY", str(tmp_path / "gallery"))
    assert (
        main(["faces", "index", "--name", "Eileen_Collins", str(SKIMAGE_DATA / "astronaut.png")])
        == 0
    )
    assert main(["faces", "index", "--name", "cup", str(SKIMAGE_DATA / "coffee.png")]) == 0
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "RECOGNIZER", "INDEXER")
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service()]
    ) as stack:
        # WHEN a clip with a title card, then her portrait, is analysed with face search
        video_id = await stack.upload(crew_clip, stages=(Stage.FRAMES, Stage.RECOGNITION))
        event = await stack.wait_completed(video_id, timeout_s=90)
        assert event.status == VideoStatus.COMPLETE
        document = await stack.store.read(video_id)
        portrait = [k.id for k in document.keyframes if k.scene_index == 1]
        assert portrait
        await stack.wait_indexed(document, timeout_s=30)
        # AND she is searched by name, in another case
        code, out, err = await cli(capsys, "find", "--person", "eileen_collins", "--json")
    # THEN she is found at the portrait's keyframes only, named as she was indexed
    assert code == 0, err
    hits = [h for v in json.loads(out)["videos"] for h in v["hits"]]
    assert sorted(h["keyframe_id"] for h in hits) == sorted(portrait)
    assert {h["text"] for h in hits} == {"Eileen_Collins"}
