"""``videosense clip --query`` through the real pipeline on the emulator: a clip with two title
cards is analysed (frames + local recognition) and indexed in a real SQLite library index; the
command resolves a natural-language question against that index (with the packaged embedding
model), turns the hits into the scenes they stand for, and the clipper cuts exactly those."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from recognizer.service import service
from tests.support.command_line import cli
from tests.support.pictures import two_cards_clip
from tests.support.polling import short_polls
from videosense.cli import main
from videosense.embedded import EmbeddedStack
from videosense_shared.messages import Stage, VideoStatus


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_cards_clip(tmp_path_factory.mktemp("clip-query"))


@pytest.fixture(autouse=True)
def search_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The library index of this test: the stack's indexer writes it, the command reads it."""
    path = tmp_path / "search.sqlite"
    monkeypatch.setenv("VIDEOSENSE_SEARCH_INDEX_PATH", str(path))
    # Natural-language search needs the text-embedding model (loaded when the query runs).
    monkeypatch.setenv("VIDEOSENSE_SEARCH_EMBEDDINGS", "true")
    return path


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    short_polls(
        monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "RECOGNIZER", "INDEXER", "CLIPPER"
    )
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[service()]
    ) as running:
        yield running


async def test_clip_query_cuts_the_scenes_the_search_finds(
    stack: EmbeddedStack, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the two-card clip analysed, its document finished and the video indexed
    video_id = await stack.upload(clip, stages=(Stage.FRAMES, Stage.RECOGNITION))
    event = await stack.wait_completed(video_id, timeout_s=90)
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    await stack.wait_indexed(document, timeout_s=30)
    second = next(s for s in document.scenes if s.index == 1)

    # WHEN the second card is asked for in natural language
    out = tmp_path / "clips"
    code, stdout, err = await cli(
        capsys, "clip", video_id, "--query", "the weather report", "--out", str(out)
    )
    # THEN exactly the second card's scene is cut (its keyframe hits merged into one range)
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == [
        f"clip-001_{second.start_s:.3f}-{second.end_s:.3f}.mp4"
    ]
    assert f"{second.start_s:.3f}-" in stdout
    assert "hit(s) for 'the weather report'" in err

    # WHEN the question matches nothing in the video
    empty = tmp_path / "none"
    code, _, err = await cli(
        capsys, "clip", video_id, "--query", "zebras grazing", "--out", str(empty)
    )
    # THEN exit 0, "no moments found", no request sent and no file
    assert code == 0, err
    assert "no moments found for --query 'zebras grazing'" in err
    assert "requested clips" not in err
    assert not empty.exists()
    listed = await stack.aws.s3.list_objects_v2(
        Bucket=stack.common.bucket, Prefix=f"clips/{video_id}/"
    )
    assert len({o["Key"].split("/")[2] for o in listed.get("Contents", [])}) == 1

    # WHEN the video is not in the index / THEN it fails saying so
    code, _, err = await cli(capsys, "clip", "no-such-video", "--query", "x", "--out", str(empty))
    assert code == 1
    assert "no-such-video is not in the search index" in err


def test_query_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # WHEN --query comes with nothing to search, or a --limit out of range / THEN exit 2
    assert main(["clip", "v", "--query", "?!", "--out", str(tmp_path)]) == 2
    assert "--query:" in capsys.readouterr().err
    assert main(["clip", "v", "--query", "dogs", "--limit", "0", "--out", str(tmp_path)]) == 2
    assert "--limit must be between 1 and 100" in capsys.readouterr().err
    # AND --query is one selector among the others, not combined with them
    with pytest.raises(SystemExit) as exited:
        main(["clip", "v", "--query", "dogs", "--say", "dogs", "--out", str(tmp_path)])
    assert exited.value.code == 2
