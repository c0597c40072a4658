"""How the services' processes ask glibc's allocator to give memory back.

Two glibc behaviours kept freed memory resident in the services (measured in
``bench/README.md``, "Memory against the film's length"):

- **Arenas.** Every thread that allocates may get an arena of its own, up to 8 per core; memory
  freed in one stays in it. The services run models in worker threads, so a process held the
  high-water mark of several threads' working memory at once. ``MALLOC_ARENA_MAX=2`` bounds them.
- **The dynamic mmap threshold.** Blocks above 128 KiB are mapped on their own and unmapped when
  freed, but each such free raises the threshold (up to 32 MiB), after which those blocks come
  from the heap, and a heap cannot shrink below its highest block still in use. Model working
  memory (onnxruntime's tensors of a keyframe, decoded images) then stayed resident after the
  keyframe: about 240 MB of RapidOCR's per 720p frame. A fixed threshold of 1 MiB keeps such
  blocks mapped, so they are returned when freed (it also fixes the trim threshold at 128 KiB).

Processes started with :data:`MALLOC_ENV` (compose, ECS tasks, the images, the embedded
emulator) get them from glibc at start; the embedded stack's own process, already running when
it starts the services, sets the same values with ``mallopt`` (:func:`limit_malloc`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from types import MappingProxyType

#: Arenas a process may have at most (glibc's default: 8 per core).
ARENA_MAX = 2
#: Blocks at least this large are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 1024 * 1024

#: The same limits as environment variables glibc reads when a process starts.
MALLOC_ENV = MappingProxyType(
    {
        "MALLOC_ARENA_MAX": str(ARENA_MAX),
        "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    }
)

# mallopt parameters (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_applied: dict[str, int] = {}


def limit_malloc() -> bool:
    """Set :data:`ARENA_MAX` and :data:`MMAP_THRESHOLD` in this process with ``mallopt``.

    Call it before the process starts its worker threads: arenas already created stay. Idempotent.
    Returns False (and changes nothing) where the C library is not glibc.
    """
    if _applied:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if not (mallopt(_M_ARENA_MAX, ARENA_MAX) and mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)):
        return False
    _applied.update(arena_max=ARENA_MAX, mmap_threshold=MMAP_THRESHOLD)
    return True


def malloc_limits() -> dict[str, int]:
    """What :func:`limit_malloc` set in this process (empty when it has not, or could not)."""
    return dict(_applied)
