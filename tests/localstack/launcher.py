"""LocalStack without Docker: its own virtualenv, and a child process serving one test session.

LocalStack 4.14 needs Python >= 3.13 (its S3 imports ``warnings.deprecated``) while the project
runs on 3.11, so it lives in a virtualenv of its own in ``.venv-localstack/`` (git-ignored),
built on first use from the hash-pinned ``requirements.txt`` and rebuilt when that file, the
plugin package or the interpreter changes. The server runs in host mode on 127.0.0.1 and a free
port, with a throwaway filesystem root, S3 presigned-URL signatures checked, and DynamoDB served
by moto through ``plugin/`` (LocalStack's own DynamoDB needs a Java download).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Git-ignored: the virtualenv, its install log and the lock that serialises building it.
HOME = REPO / ".venv-localstack"
VENV = HOME / "venv"
REQUIREMENTS = HERE / "requirements.txt"
PLUGIN = HERE / "plugin"
MIN_PYTHON = (3, 13)
VERSION = "4.14.0"
SERVICES = ("s3", "sns", "sqs", "dynamodb", "sts")
# The keys LocalStack signs presigned URLs with when it checks them.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# Set to an interpreter (>= 3.13) to build the virtualenv with it instead of searching for one.
PYTHON_ENV = "VIDEOSENSE_LOCALSTACK_PYTHON"


def client_credentials(settings: Mapping[str, str]) -> dict[str, str]:
    """A client's AWS settings (``settings``: those for the embedded emulator) made fit for
    LocalStack: its long-term keys (``CREDENTIALS``, which it checks presigned-URL signatures
    against) and no session token (it rejects a presigned URL that carries one)."""
    keys = {k: v for k, v in settings.items() if k != "AWS_SESSION_TOKEN"}
    return {**keys, **CREDENTIALS}


_STAMP = "videosense-stamp"
_PR_SET_PDEATHSIG = 1


class LocalStackError(RuntimeError):
    """LocalStack could not be installed or did not start."""


# --------------------------------------------------------------------------- the interpreter


def _candidates() -> Iterator[str]:
    if os.environ.get(PYTHON_ENV):
        yield os.environ[PYTHON_ENV]
        return
    # The lowest suitable minor first: the pins were resolved on 3.13.
    for minor in range(MIN_PYTHON[1], MIN_PYTHON[1] + 5):
        if found := shutil.which(f"python3.{minor}"):
            yield found
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    yield from sorted(glob.glob(str(pyenv_root / "versions" / "3.1[3-9]*" / "bin" / "python")))
    if found := shutil.which("python3"):
        yield found


def find_python() -> Path | None:
    """The real path of a Python >= 3.13 on this machine, or None.

    Looks at ``$VIDEOSENSE_LOCALSTACK_PYTHON`` alone when set; else ``python3.13``, ``python3.14``
    ... on PATH, then pyenv's versions, then ``python3``. A pyenv shim for a version that is not
    active fails its probe and is passed over.
    """
    probe = f"import sys; print(sys.executable if sys.version_info >= {MIN_PYTHON} else '')"
    for candidate in _candidates():
        try:
            out = subprocess.run(
                [candidate, "-c", probe], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    return None


# --------------------------------------------------------------------------- the virtualenv


def _fingerprint(python: Path) -> str:
    digest = hashlib.sha256()
    digest.update(str(python).encode())
    digest.update(REQUIREMENTS.read_bytes())
    for path in sorted(PLUGIN.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PLUGIN).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_logged(args: list[str], log: IO[str], what: str) -> None:
    log.write(f"$ {' '.join(args)}\n")
    log.flush()
    done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise LocalStackError(f"{what} failed (exit {done.returncode}); see {log.name}")


def ensure_venv(python: Path, venv: Path = VENV) -> Path:
    """Build LocalStack's virtualenv unless it is already built from the same inputs.

    Safe to call from concurrent processes (a file lock serialises them). Returns the
    virtualenv's interpreter.

    Raises:
        LocalStackError: creating the virtualenv or installing into it failed.
    """
    venv_python = venv / "bin" / "python"
    wanted = _fingerprint(python)
    stamp = venv / _STAMP
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == wanted and venv_python.exists():
            return venv_python
        shutil.rmtree(venv, ignore_errors=True)
        log_path = venv.parent / "install.log"
        with log_path.open("w") as log, tempfile.TemporaryDirectory() as scratch:
            _run_logged([str(python), "-m", "venv", str(venv)], log, "python -m venv")
            pip = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check"]
            _run_logged(
                [*pip, "--require-hashes", "-r", str(REQUIREMENTS)], log, "installing LocalStack"
            )
            # Built from a copy: a build leaves build/ and *.egg-info beside the sources.
            plugin = Path(scratch) / "plugin"
            shutil.copytree(PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__"))
            _run_logged(
                [*pip, "--no-deps", "--no-build-isolation", "--no-index", str(plugin)],
                log,
                "installing the LocalStack plugin",
            )
        stamp.write_text(wanted)
        return venv_python


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel kills LocalStack when the test process
    # dies without tearing down (SIGKILL, a crash), so no server outlives its session.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def server_env(port: int, root: Path) -> dict[str, str]:
    """The environment LocalStack runs with: host mode, loopback only, signatures checked."""
    # Nothing of the test process's AWS settings or Python path leaks into LocalStack.
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV", "LOCALSTACK_", "PROVIDER_"))
    }
    return {
        **inherited,
        **CREDENTIALS,
        "OVERRIDE_IN_DOCKER": "0",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        # The default server binds every interface; hypercorn binds what GATEWAY_LISTEN says.
        "GATEWAY_SERVER": "hypercorn",
        "SERVICES": ",".join(SERVICES),
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "S3_SKIP_SIGNATURE_VALIDATION": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
        "FILESYSTEM_ROOT": str(root),
        "PYTHONUNBUFFERED": "1",
    }


class LocalStack:
    """A LocalStack server child process on 127.0.0.1. Use as a context manager.

    ``log_path``: where its output goes (kept after it stops, for reading failures).

    Raises:
        LocalStackError: it exited or was not healthy within ``start_timeout_s``.
    """

    def __init__(
        self, venv_python: Path, log_path: Path, *, start_timeout_s: float = 120.0
    ) -> None:
        self._python = venv_python
        self.log_path = log_path
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._root: Path | None = None
        self.endpoint = ""
        self.started_in_s = 0.0

    def start(self) -> None:
        """Start the server on a free port and wait until every service is available.

        Raises:
            LocalStackError: it exited (three tries, for a port taken meanwhile) or timed out.
        """
        began = time.monotonic()
        for _attempt in range(3):
            port = _free_port()
            self._root = Path(tempfile.mkdtemp(prefix="localstack-"))
            # LocalStack lists this directory on the health route; host mode does not create it.
            (self._root / "usr" / "lib" / "localstack").mkdir(parents=True)
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    [str(self._python), "-m", "localstack.runtime.main"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=server_env(port, self._root),
                    # Its own session: a terminal's Ctrl-C reaches the tests, whose teardown
                    # then stops the server in order.
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            self.endpoint = f"http://127.0.0.1:{port}"
            if self._wait_healthy():
                self.started_in_s = time.monotonic() - began
                return
            self.stop()
        raise LocalStackError(
            f"LocalStack did not become healthy on {self.endpoint}; its log: {self.log_path}"
        )

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if self._healthy():
                return True
            time.sleep(0.1)
        return False

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as r:
                services = json.load(r).get("services", {})
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False
        return all(services.get(name) in ("available", "running") for name in SERVICES)

    def rss_bytes(self) -> int:
        """Resident memory of the server process (0 when it is not running)."""
        if self._proc is None:
            return 0
        try:
            status = Path(f"/proc/{self._proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop the server and delete its filesystem root (idempotent).

        SIGTERM first; LocalStack 4.14's hypercorn loop often never wakes to finish its shutdown
        once it has served requests, so after ``grace_s`` the whole process group is killed.
        Its state lives only in the throwaway root, so nothing is lost.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # Anything it started in its group goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.localstack.launcher [--venv]``: print the Python >= 3.13 LocalStack
    would use (exit 1 when there is none); with ``--venv``, also build the virtualenv."""
    args = sys.argv[1:] if argv is None else argv
    python = find_python()
    if python is None:
        print(f"no Python >= {'.'.join(map(str, MIN_PYTHON))} found", file=sys.stderr)
        return 1
    print(python)
    if "--venv" in args:
        try:
            print(ensure_venv(python))
        except LocalStackError as err:
            print(err, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
