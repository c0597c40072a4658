"""The embedded AWS emulator: a moto server on 127.0.0.1 in a child process.

A child process (rather than moto's threaded server inside ours) keeps the emulator's request
handling off our interpreter's GIL while frames decode, and ends cleanly with us. Its DynamoDB
answers one request at a time (:mod:`videosense.moto_server` says why).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import Self

from videosense_shared.memory import MALLOC_ENV

# Credentials the emulator accepts; never real ones.
EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class EmulatorError(RuntimeError):
    """The emulator did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """A moto server child process. Use as a context manager.

    Raises:
        EmulatorError: the server did not answer within ``start_timeout_s``.
    """

    def __init__(self, *, port: int = 0, start_timeout_s: float = 30.0) -> None:
        self._port = port
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self) -> None:
        """Start the server and wait until it answers.

        Raises:
            EmulatorError: it exited or did not answer in time.
        """
        for _attempt in range(3):
            port = self._port or _free_port()
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "videosense.moto_server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, **EMULATOR_ENV, **MALLOC_ENV},
            )
            self.endpoint = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return
            self.stop()
            if self._port:
                break
        raise EmulatorError(f"the embedded AWS emulator (moto) did not start on {self.endpoint}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False  # exited: most likely the port was taken meanwhile
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        return False

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs at this emulator."""
        return {**EMULATOR_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
