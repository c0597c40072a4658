"""A moto server whose DynamoDB answers one request at a time, for tests that hammer it.

moto's server handles requests on threads, and its DynamoDB is not safe for that:
``TransactWriteItems`` deep-copies the whole table first and, when the transaction is cancelled
(a condition failed, as when the same chunk is counted twice), puts the copy back, silently
discarding every write other requests made to that table meanwhile; conditional writes check
and write in two steps. Real DynamoDB does neither. A pipeline under redelivery (crashes,
duplicates) cancels transactions often, so on plain moto items vanish now and then (a scene, a
chunk counter, a document header) and videos end wrong or never end.

Run as ``python -m tests.locked_moto -H 127.0.0.1 -p PORT`` (moto.server's arguments); start
and stop it with :class:`LockedEmulator`. Only DynamoDB is serialised: the other services keep
moto's threads, so long polls still wait side by side.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from videosense.emulator import EMULATOR_ENV

_ROOT = Path(__file__).resolve().parents[1]


def serialise_dynamodb() -> None:
    """Make moto's DynamoDB handle one request at a time (in this process)."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    call: Callable[[Any], Any] = DynamoHandler.call_action

    def one_at_a_time(self: Any) -> Any:
        with lock:
            return call(self)

    DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LockedEmulator:
    """This module's moto server in a child process. Use as a context manager.

    Raises:
        RuntimeError: the server did not answer within ``start_timeout_s``.
    """

    def __init__(self, start_timeout_s: float = 60.0) -> None:
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def __enter__(self) -> Self:
        port = _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.locked_moto", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=_ROOT,
            env={**os.environ, **EMULATOR_ENV},
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2)
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self._stop()
        raise RuntimeError(f"the locked moto server did not start on {self.endpoint}")

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()


if __name__ == "__main__":
    serialise_dynamodb()
    from moto.server import main

    main()
