"""``videosense find`` on a search index built in the test: every flag reaches the query, the
output says where each hit is, and bad input is a usage error (exit 2), never a traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.search_documents import document, keyframe, segment
from videosense.cli import main
from videosense_shared.messages import VideoStatus
from videosense_shared.search.sqlite_index import SqliteSearchIndex


@pytest.fixture
def index_file(tmp_path: Path) -> Path:
    path = tmp_path / "search.sqlite"

    async def build() -> None:
        index = SqliteSearchIndex(path)
        await index.index_video(
            document(
                "v1",
                keyframe(0, text=("Mission briefing",), labels=("Car",), faces=("Jane Doe",)),
                keyframe(2500, scene=3, text=("Briefing room",)),
                segments=(segment(95.0, 99.0, "the briefing starts now", "spk_1"),),
            )
        )
        await index.index_video(document("v2", status=VideoStatus.FAILED, error="not a video"))
        await index.close()

    asyncio.run(build())
    return path


def run_find(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["find", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_search_prints_each_hit_with_time_scene_and_image(
    index_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_find(capsys, "--text", "briefing", "--index", str(index_file))
    assert code == 0, err
    assert out.splitlines()[0] == "video v1  complete  uploads/v1.mp4"
    assert "01:40.0" in out  # the keyframe at 100 s
    assert "scene 3" in out
    assert "s3://media/frames/v/000002500.jpg" in out
    assert "the briefing starts now" not in out  # --text is on-screen text only
    assert "2 match(es)" in err


def test_say_searches_the_transcript_in_a_time_range(
    index_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_find(
        capsys, "--say", "briefing", "--from", "1:30", "--to", "100", "--json",
        "--index", str(index_file),
    )  # fmt: skip
    assert code == 0, err
    hits = [h for v in json.loads(out)["videos"] for h in v["hits"]]
    assert [(h["kind"], h["speaker"], h["t_s"], h["end_s"]) for h in hits] == [
        ("transcript", "spk_1", 95.0, 99.0)
    ]


def test_prefix_and_any(index_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_find(capsys, "--text", "brief", "--prefix", "--index", str(index_file))
    assert (code, out.count("Mission briefing")) == (0, 1)
    code, out, _ = run_find(
        capsys, "--text", "room mission", "--any", "--json", "--index", str(index_file)
    )
    texts = {h["text"] for v in json.loads(out)["videos"] for h in v["hits"]}
    assert (code, texts) == (0, {"Mission briefing", "Briefing room"})


def test_person_and_label(index_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_find(capsys, "--person", "jane doe", "--index", str(index_file))
    assert (code, "Jane Doe" in out) == (0, True)
    code, out, _ = run_find(capsys, "--label", "car", "--index", str(index_file))
    assert (code, '"Car"' in out) == (0, True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--text", "x" * 10_000], "at most 500 characters", id="10000 characters"),
        pytest.param(["--text", '"*()'], "no letters or digits", id="punctuation only"),
        pytest.param(["--query", "space", "--any"], "apply to words", id="natural with --any"),
        pytest.param(["--text", "a", "--from", "20", "--to", "10"], "before", id="empty range"),
    ],
)
def test_bad_queries_are_usage_errors(
    index_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_find(capsys, *argv, "--index", str(index_file))
    assert (code, out) == (2, "")
    assert message in err
    assert "Traceback" not in err


def test_a_bad_time_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["find", "--text", "a", "--from", "soon"])
    assert exited.value.code == 2
    assert "is not a time" in capsys.readouterr().err


def test_unknown_video_and_missing_index(
    index_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_find(capsys, "--text", "a", "--video", "nope", "--index", str(index_file))
    assert code == 1
    assert "nope is not in the search index" in err
    code, _, err = run_find(capsys, "--text", "a", "--index", str(tmp_path / "none.sqlite"))
    assert code == 1
    assert "no search index at" in err
