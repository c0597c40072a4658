"""``videosense clip FILE --query TEXT`` in one command (a real child process with its own
emulator): a video with speech is analysed as ``videosense run`` would, indexed in a fresh
library index, the natural-language question resolved on that index, and the transcript segment
it finds cut into a clip with its sound."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from tests.support.clips import ffmpeg_binary
from tests.support.speech import make_speech_clip

pytestmark = pytest.mark.e2e

SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "i would like a cup of coffee",
    "the weather is nice today",
)
LEAD_S = 0.7
PAUSE_S = 1.2


def spoken_s(text: str) -> float:
    """How long flite's ``slt`` voice takes to say ``text`` (as the clip generator renders it)."""
    command = [ffmpeg_binary(), "-v", "error", "-nostdin", "-f", "lavfi"]
    command += ["-i", f"flite=text='{text}':voice=slt", "-f", "null", "-"]
    done = subprocess.run([*command, "-stats"], capture_output=True, text=True, check=True)
    [*_, last] = re.findall(r"time=(\d+):(\d+):([\d.]+)", done.stderr)
    hours, minutes, seconds = last
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_clip_a_local_file_by_a_question(tmp_path: Path) -> None:
    # GIVEN a video that says three sentences, and where the second one is said
    source = make_speech_clip(tmp_path / "talk.mp4", SENTENCES, lead_s=LEAD_S, pause_s=PAUSE_S)
    first = spoken_s(SENTENCES[0])
    said = (LEAD_S + first + PAUSE_S, LEAD_S + first + PAUSE_S + spoken_s(SENTENCES[1]))
    # AND no AWS settings at all, a fresh library index, natural-language search on
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    env["VIDEOSENSE_SEARCH_INDEX_PATH"] = str(tmp_path / "library.sqlite")
    env["VIDEOSENSE_SEARCH_EMBEDDINGS"] = "true"
    out = tmp_path / "clips"
    # WHEN the best moment answering a question about a drink is clipped, by file name
    proc = subprocess.run(
        [sys.executable, "-m", "videosense", "clip", str(source), "--query",
         "someone asking for a hot drink", "--limit", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )  # fmt: skip
    # THEN the file was analysed as `videosense run` does (the transcript among the stages)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"analysing talk\.mp4 \([^)]*transcript", proc.stderr), proc.stderr
    # AND one clip was written: the transcript segment of the coffee sentence, with its sound
    [clip] = list(out.iterdir())
    found = re.fullmatch(r"clip-001_(\d+\.\d{3})-(\d+\.\d{3})\.mp4", clip.name)
    assert found is not None, clip.name
    start, end = float(found[1]), float(found[2])
    # (the speech model's segment bounds are within a few tenths of the voice's, and the clip
    # holds neither the sentence before nor the one after)
    assert LEAD_S + first < start, (start, said)
    assert said[0] - 0.6 <= start <= said[0] + 0.3, (start, said)
    assert said[1] - 0.8 <= end <= said[1] + 0.8, (end, said)
    assert end < said[1] + PAUSE_S, (end, said)
    # (listed with the range actually cut: from the first frame shown at or after the start)
    listed = re.search(rf"{re.escape(str(clip))}  (\d+\.\d+)-(\d+\.\d+) s", proc.stdout)
    assert listed is not None, proc.stdout
    assert float(listed[1]) == pytest.approx(start, abs=0.04)
    with av.open(str(clip)) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
        duration = float(container.duration or 0) / av.time_base
    assert duration == pytest.approx(end - start, abs=0.1)
    # AND the library index it searched is the one named, now holding the video
    assert (tmp_path / "library.sqlite").is_file()
