"""glibc's allocator limits (``videosense_shared.memory``): each case runs in a child process
that measures itself, with and without the limits, so a test can tell them apart."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from videosense_shared.memory import ARENA_MAX, MALLOC_ENV, limit_malloc, malloc_limits

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the limits are glibc's",
)

# Frees 200 MB of 2 MiB blocks while a small block allocated after each stays in use: with
# glibc's dynamic threshold (raised by the first 2 MiB block freed) the blocks come from the heap,
# and holes between blocks in use are not given back, so they stay resident.
_RESIDENT_AFTER_FREE = """
    import json, sys
    from pathlib import Path
    from videosense_shared.memory import limit_malloc

    def rss_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    if sys.argv[1] == "mallopt":
        limit_malloc()
    first = b"\\x01" * (2 << 20)
    del first
    before = rss_mb()
    blocks, keepers = [], []
    for i in range(100):
        blocks.append(b"\\x01" * (2 << 20))
        keepers.append(b"\\x02" * (4000 + i))
    del blocks
    print(json.dumps({"kept_mb": rss_mb() - before}))
"""

# Eight threads allocate at once; malloc_info lists one <heap> per arena.
_ARENAS = """
    import ctypes, json, os, sys, tempfile, threading
    from videosense_shared.memory import limit_malloc

    if sys.argv[1] == "mallopt":
        limit_malloc()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    start = threading.Barrier(8)
    done = threading.Barrier(9)
    held = []

    def work():
        start.wait()
        held.append([bytearray(100_000) for _ in range(20)])
        done.wait()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    done.wait()
    path = os.path.join(tempfile.mkdtemp(), "info.xml")
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(json.dumps({"arenas": open(path).read().count("<heap nr=")}))
"""


def _child(script: str, how: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if how == "env":
        env.update(MALLOC_ENV)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), how],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def test_without_limits_freed_blocks_stay_resident() -> None:
    # GIVEN a process with glibc's defaults WHEN it frees 200 MB between blocks still in use
    kept = _child(_RESIDENT_AFTER_FREE, "none")["kept_mb"]
    # THEN the memory stays resident (what the limits are for; the cases below differ)
    assert kept > 150


@pytest.mark.parametrize("how", ["mallopt", "env"])
def test_with_limits_freed_blocks_are_returned(how: str) -> None:
    # GIVEN the limits, set by mallopt (the embedded stack) or the environment (services)
    # WHEN the process frees 200 MB of large blocks between blocks still in use
    kept = _child(_RESIDENT_AFTER_FREE, how)["kept_mb"]
    # THEN they are no longer resident
    assert kept < 30


def test_without_limits_eight_threads_get_arenas_of_their_own() -> None:
    assert _child(_ARENAS, "none")["arenas"] > ARENA_MAX


@pytest.mark.parametrize("how", ["mallopt", "env"])
def test_with_limits_threads_share_at_most_two_arenas(how: str) -> None:
    # GIVEN the limits WHEN eight threads allocate at once THEN at most two arenas exist
    assert _child(_ARENAS, how)["arenas"] <= ARENA_MAX


def test_limit_malloc_records_what_it_set() -> None:
    # GIVEN glibc WHEN the limits are set THEN the process says which
    assert limit_malloc()
    assert malloc_limits() == {"arena_max": 2, "mmap_threshold": 1024 * 1024}
    assert MALLOC_ENV == {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "1048576"}
