"""``videosense run`` end to end: a real child process, its own embedded emulator, real video."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.clips import make_cut_clip, truncate

pytestmark = pytest.mark.e2e

CUTS = [25, 60, 95, 140]
TOTAL = 175


def _run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    return subprocess.run(
        [sys.executable, "-m", "videosense", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "four cuts été.mp4"
    return make_cut_clip(path, cut_frames=CUTS, total_frames=TOTAL, audio=True)


def test_run_json_finds_every_cut_and_keyframe(cut_clip: Path, tmp_path: Path) -> None:
    # GIVEN a clip with hard cuts at known frames and an audio track
    out = tmp_path / "out"
    # WHEN it goes through the whole pipeline
    proc = _run("run", cut_clip, "--json", "--out", out)
    # THEN the exit code is 0 and stdout is exactly the schema-v3 document
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert doc["schema_version"] == 3
    assert doc["status"] == "complete"
    assert doc["source"]["key"] == f"uploads/{cut_clip.name}"
    assert doc["media"]["has_audio"] is True
    assert doc["media"]["frame_count"] == TOTAL
    assert doc["stages"]["frames"]["status"] == "complete"
    # AND with no --stages and nothing configured, every stage that runs offline ran (captions
    # need a configured model)
    assert {name: stage["status"] for name, stage in doc["stages"].items()} == {
        "frames": "complete",
        "recognition": "complete",
        "transcript": "complete",
    }
    # AND the scenes match the known cuts within one frame, end exclusive, covering the video
    starts = [s["start_frame"] for s in doc["scenes"]]
    assert len(starts) == len(CUTS) + 1
    for found, expected in zip(starts[1:], CUTS, strict=True):
        assert abs(found - expected) <= 1, (starts, CUTS)
    assert doc["scenes"][0]["start_frame"] == 0
    assert doc["scenes"][-1]["end_frame"] == TOTAL
    for prev, nxt in zip(doc["scenes"], doc["scenes"][1:], strict=False):
        assert prev["end_frame"] == nxt["start_frame"]
    # AND every scene has a keyframe whose JPEG was stored (the CLI fetched each from S3)
    covered = {kf["scene_index"] for kf in doc["keyframes"]}
    assert covered == {s["index"] for s in doc["scenes"]}
    for kf in doc["keyframes"]:
        jpeg = out / "keyframes" / Path(kf["image"]["key"]).name
        assert jpeg.read_bytes()[:2] == b"\xff\xd8"
    # AND progress went to stderr, not stdout
    assert "videosense:" in proc.stderr


def test_run_summary_is_readable(cut_clip: Path) -> None:
    proc = _run("run", cut_clip)
    assert proc.returncode == 0, proc.stderr
    assert "status: complete" in proc.stdout
    assert "scenes    5" in proc.stdout


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        pytest.param("empty clip.mp4", b"", "empty", id="zero-bytes"),
        pytest.param("notes ünïcode.mp4", b"hello, I am text\n" * 100, "not a video", id="text"),
    ],
)
def test_bad_input_ends_as_failed_document(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = _run("run", path, "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    assert reason in doc["error"]
    assert doc["source"]["key"] == f"uploads/{name}"


def test_truncated_video_fails_cleanly(cut_clip: Path, tmp_path: Path) -> None:
    broken = truncate(cut_clip, tmp_path / "truncated.mp4", keep=0.5)
    proc = _run("run", broken, "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    assert doc["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["run", "does-not-exist.mp4"], "no such file", id="missing-file"),
        pytest.param(["run", "x.mp4", "--stages", ","], "no stage requested", id="no-stage"),
        pytest.param(["run", "x.mp4", "--stages", "dance"], "unknown stage", id="unknown"),
        pytest.param(["extract", "nope.mp4", "--out", "o"], "no such file", id="extract-missing"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], message: str) -> None:
    proc = _run(*args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_extract_writes_scenes_and_jpegs(cut_clip: Path, tmp_path: Path) -> None:
    proc = _run("extract", cut_clip, "--out", tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["scenes"]) == len(CUTS) + 1
    for kf in result["keyframes"]:
        assert (tmp_path / kf["file"]).read_bytes()[:2] == b"\xff\xd8"
    assert json.loads((tmp_path / "extraction.json").read_text()) == result
