"""Peak resident memory of a process tree, per process, sampled from ``/proc`` (Linux).

``ru_maxrss`` of the children only gives the largest process; the benchmarks want each one (the
pipeline process, the emulator, each service process), so a thread reads ``VmHWM`` (the kernel's
own peak RSS, exact between samples) of the root and every descendant every ``interval_s`` and
keeps the last value seen per process, labelled by its command line.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces and parentheses: the ppid follows the last ")".
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    tree = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _peak_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _label(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    # "python -m frame_extractor" -> "frame_extractor"; "-m videosense run x" -> "videosense run"
    if "-m" in words:
        module = words[words.index("-m") + 1 :]
        return " ".join(module[:2]) if module and module[0] == "videosense" else module[0]
    return " ".join(Path(w).name for w in words[:2])


class TreeMemory:
    """Samples the peak RSS of ``root`` and its descendants until stopped. Use as a context
    manager; ``peaks_mb`` maps ``"label (pid)"`` to MB."""

    def __init__(self, root: int | None = None, interval_s: float = 0.5) -> None:
        self._root = root if root is not None else os.getpid()
        self._interval = interval_s
        self._stop = threading.Event()
        self._peaks: dict[int, tuple[str, int]] = {}
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def _sample(self) -> None:
        for pid in descendants(self._root):
            peak = _peak_kb(pid)
            if peak is None:
                continue
            label = self._peaks[pid][0] if pid in self._peaks else _label(pid)
            self._peaks[pid] = (label, max(peak, self._peaks.get(pid, ("", 0))[1]))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self._interval)

    @property
    def peaks_mb(self) -> dict[str, float]:
        """Peak RSS seen per process, in MB, largest first."""
        rows = sorted(self._peaks.items(), key=lambda item: -item[1][1])
        return {f"{label} ({pid})": kb / 1024 for pid, (label, kb) in rows}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
