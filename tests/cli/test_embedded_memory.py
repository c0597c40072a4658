"""The embedded stack runs with glibc's allocator limits (``videosense_shared.memory``), in its
own process and in the emulator child it starts: measured by a child process on itself."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from videosense_shared.memory import MALLOC_ENV

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
        reason="the limits are glibc's",
    ),
]

_STACK = """
    import asyncio, json, sys
    from pathlib import Path
    from videosense.embedded import EmbeddedStack
    from videosense_shared.memory import malloc_limits
    from videosense_shared.search.settings import SearchSettings

    async def main():
        search = SearchSettings(index_path=Path(sys.argv[1]) / "search.sqlite")
        async with EmbeddedStack(search=search) as stack:
            emulator = stack._emulator._proc.pid
            raw = Path(f"/proc/{emulator}/environ").read_bytes().split(b"\\0")
            env = dict(v.decode().split("=", 1) for v in raw if b"=" in v)
            print("LIMITS", json.dumps({
                "stack": malloc_limits(),
                "emulator": {k: v for k, v in env.items() if k.startswith("MALLOC_")},
            }))

    asyncio.run(main())
"""


def test_embedded_stack_and_its_emulator_run_with_the_malloc_limits(tmp_path: Path) -> None:
    # GIVEN a process with glibc's defaults (no MALLOC_ variables)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_", "MALLOC_"))
    }
    # WHEN it starts the embedded stack
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_STACK), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    ).stdout
    # The services log on stdout too: the child's answer is the line it marked.
    (line,) = [line for line in out.splitlines() if line.startswith("LIMITS ")]
    found = json.loads(line.removeprefix("LIMITS "))
    # THEN the stack's process set the limits, and the emulator was started with them
    assert found["stack"] == {"arena_max": 2, "mmap_threshold": 1024 * 1024}
    assert found["emulator"] == dict(MALLOC_ENV)
