"""``videosense clip FILE``: a local video analysed on the embedded stack, then clipped, in one
command (a real child process with its own emulator)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clipper.coded_video import coded_video, expected_frames, frame_numbers

pytestmark = pytest.mark.e2e


def test_clip_a_local_file_in_one_command(tmp_path: Path) -> None:
    # GIVEN a numbered 6 s video on disk, and no AWS settings at all
    source = coded_video(tmp_path / "talk.mp4", seconds=6)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    out = tmp_path / "clips"
    # WHEN it is clipped from 1.3 s to 4.7 s, by file name
    proc = subprocess.run(
        [sys.executable, "-m", "videosense", "clip", str(source), "--from", "1.3", "--to", "4.7",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    # THEN it was analysed (frames only: the range needs nothing else) and cut, frame-exact
    assert proc.returncode == 0, proc.stderr
    assert "analysing talk.mp4 (frames)" in proc.stderr
    [clip] = list(out.iterdir())
    assert frame_numbers(clip) == expected_frames(1.3, 4.7, 25, 150)
    assert "smart" in proc.stdout or "reencode" in proc.stdout
