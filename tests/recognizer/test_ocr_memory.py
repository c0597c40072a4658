"""RapidOCR's memory: its onnxruntime sessions keep no CPU arena, and under the services'
malloc limits a 720p keyframe's working memory is returned after the keyframe (a child process
measures itself). Keyframes reach the recognizer at 1280x720 at most (the frame extractor's
``max_image_side``), and RapidOCR runs its detector on 640x360 at the same 1308x736."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from tests.support.pictures import pil_text
from videosense_shared.memory import MALLOC_ENV
from videosense_shared.vision.text import RapidOcr


def test_every_rapidocr_session_runs_without_a_memory_arena_on_one_thread() -> None:
    # GIVEN the reader WHEN it has read a line of text (detection, orientation, recognition)
    reader = RapidOcr()
    found = reader.read(pil_text("Launch window opens", size=(1280, 720)), 50.0)
    assert [t.text for t in found] == ["Launch window opens"]
    # THEN all three sessions were built without onnxruntime's CPU arena, on one thread each
    options = reader.session_options()
    assert len(options) == 3
    assert [o.enable_cpu_mem_arena for o in options] == [False, False, False]
    assert [o.intra_op_num_threads for o in options] == [1, 1, 1]


_READ_FRAMES = """
    import json
    from pathlib import Path
    from tests.support.pictures import pil_text
    from videosense_shared.vision.text import RapidOcr

    def rss_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    reader = RapidOcr()
    reader.check()
    before = rss_mb()
    for i in range(4):
        reader.read(pil_text(f"frame number {i}", size=(1280, 720)), 50.0)
    print(json.dumps({"kept_mb": rss_mb() - before}))
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the limits are glibc's",
)
def test_720p_keyframes_leave_no_working_memory_resident_under_the_malloc_limits() -> None:
    # GIVEN a process with the services' malloc limits and a reader (its sessions are built on
    # the first image)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(MALLOC_ENV)
    # WHEN it reads four more 720p frames
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_READ_FRAMES)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    # THEN it holds the sessions and little else: measured 90-95 MB with the limits, 250-265 MB
    # without them (the detector's working memory of a 720p frame, kept by the heap)
    assert json.loads(out)["kept_mb"] < 150
