"""The services as separate operating-system processes, started the way docker compose starts
them: ``python -m <package>`` with the environment the compose file gives each one
(:func:`videosense_deploy.environment.service_environment`), pointed at a test endpoint.

Every JSON log line a service writes is read by a thread as it arrives, kept, copied to a log
file, and shown to *watchers*: a watcher may SIGKILL the process the moment a line says
something (a crash at a chosen point of the work). Only processes started here are ever
signalled, always by their own pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from videosense.emulator import EMULATOR_ENV
from videosense_deploy.environment import Deployment, common_environment, service_environment
from videosense_deploy.services import SERVICES, ServiceDef, deployable, repo_root

#: The consumer's first log line once it polls its queue: the service is ready for work.
READY_EVENT = "consumer started"
#: How long a service gets to drain on SIGTERM at the end of a test before it is killed.
_STOP_GRACE_S = 15.0
#: Variables of the test process that must not leak into a service's environment: the service
#: gets exactly what compose gives it, plus the test's overrides.
_NOT_INHERITED = ("AWS_", "VIDEOSENSE_", "HF_")


@dataclass(frozen=True)
class LogRecord:
    """One log line of a service: the decoded JSON (``{"raw": line}`` when not JSON), and the
    pid of the process that wrote it."""

    service: str
    pid: int
    fields: Mapping[str, Any]

    def get(self, name: str) -> Any:
        """The field ``name``, or ``None``."""
        return self.fields.get(name)


Watcher = Callable[["ServiceProcess", LogRecord], None]
"""Called from the log-reading thread with each line as it arrives; must be quick."""


class ServiceProcess:
    """One service, run as a child process that can be killed and started again.

    ``records`` holds the log lines of every run, in order. ``kills`` counts SIGKILLs sent.
    """

    def __init__(
        self, name: str, command: Sequence[str], env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.command = tuple(command)
        self.env = dict(env)
        self.log_path = log_path
        self.records: list[LogRecord] = []
        self.watchers: list[Watcher] = []
        self.kills = 0
        self.starts = 0
        #: (pid, exit code) of runs that ended without being killed here: crashes of the
        #: service itself.
        self.crashes: list[tuple[int, int]] = []
        self._killed: set[int] = set()
        self._ready_pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        # Kills come from the test's event loop and from the log thread (a watcher) alike.
        self._lock = threading.RLock()

    @property
    def pid(self) -> int | None:
        """Pid of the current run, or ``None`` when not running."""
        with self._lock:
            proc = self._proc
            return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def ready(self) -> bool:
        """True once the current run consumes its queue (it logged :data:`READY_EVENT`)."""
        pid = self.pid
        return pid is not None and pid == self._ready_pid

    @property
    def running(self) -> bool:
        """True while the current run is alive."""
        return self.pid is not None

    def start(self) -> None:
        """Start a new run (the previous one must have ended).

        Raises:
            RuntimeError: the service is still running.
        """
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        if self._reader is not None:
            # The previous run's last lines are read before the next run's first (not under
            # the lock: a watcher on the reading thread may be taking it to kill).
            self._reader.join(timeout=5)
        with self._lock:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
            self._proc = proc
            self.starts += 1
            assert proc.stdout is not None
            self._reader = threading.Thread(
                target=self._read,
                args=(proc.pid, proc.stdout),
                name=f"log-{self.name}",
                daemon=True,
            )
            self._reader.start()

    def _read(self, pid: int, stream: IO[bytes]) -> None:
        with self.log_path.open("a", encoding="utf-8") as copy:
            copy.write(f"--- {self.name} started, pid {pid}, at {time.strftime('%H:%M:%S')}\n")
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                copy.write(line + "\n")
                try:
                    fields = json.loads(line)
                except ValueError:
                    fields = None
                record = LogRecord(
                    self.name, pid, fields if isinstance(fields, dict) else {"raw": line}
                )
                self.records.append(record)
                if record.get("event") == READY_EVENT:
                    self._ready_pid = pid
                for watcher in list(self.watchers):
                    watcher(self, record)
            copy.write(f"--- {self.name} pid {pid} ended at {time.strftime('%H:%M:%S')}\n")

    def kill(self, pid: int | None = None) -> bool:
        """SIGKILL the current run (only if it is ``pid``, when given) and reap it.

        Returns whether a process was killed.
        """
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or (pid is not None and proc.pid != pid):
                return False
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self._killed.add(proc.pid)
            self.kills += 1
            return True

    def terminate(self) -> None:
        """Send SIGTERM to the current run (a graceful drain) without waiting for it."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def stop(self, grace_s: float = _STOP_GRACE_S) -> int | None:
        """SIGTERM the current run (a graceful drain), SIGKILL it after ``grace_s``; return its
        exit code (``None`` when it was not running)."""
        with self._lock:
            proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill(proc.pid)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return proc.returncode

    def ended(self) -> bool:
        """True when the service has run and its current run is over (killed or exited); an
        exit that was not a kill from here is recorded in ``crashes``."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is None:
                return False
            if proc.pid not in self._killed and (proc.pid, proc.returncode) not in self.crashes:
                self.crashes.append((proc.pid, proc.returncode))
            return True


def inherited_environment() -> dict[str, str]:
    """This process's environment without AWS, videosense and Hugging Face settings (the
    interpreter's own paths stay, so the children import the same code)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}


def emulator_environment(
    endpoint: str, credentials: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What compose sets to point botocore at its emulator, pointed at ``endpoint``;
    ``credentials`` (keys and region) replace the embedded emulator's :data:`EMULATOR_ENV`."""
    return {**(EMULATOR_ENV if credentials is None else credentials), "AWS_ENDPOINT_URL": endpoint}


class ServiceFleet:
    """Every deployable service of the service table, each its own process.

    ``overrides`` adds to (or replaces) a service's compose environment, by compose service
    name; ``common_overrides`` goes to every service. ``credentials`` (the AWS keys and region)
    replace the embedded emulator's: LocalStack checks presigned URLs against long-term keys
    (docs/emulators.md). Logs go to ``log_dir/<name>.log``.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        deployment: Deployment,
        log_dir: Path,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        common_overrides: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.deployment = deployment
        self.log_dir = log_dir
        self.definitions: tuple[ServiceDef, ...] = deployable(repo_root(), SERVICES)
        base = {
            **inherited_environment(),
            # As in the service images: log lines leave the process as they are written.
            "PYTHONUNBUFFERED": "1",
            **emulator_environment(endpoint, credentials),
        }
        self._base = base
        self._common_overrides = dict(common_overrides or {})
        self.services: dict[str, ServiceProcess] = {}
        for definition in self.definitions:
            env = {
                **base,
                **service_environment(
                    definition, deployment, self.definitions, definition.local_backend
                ),
                **self._common_overrides,
                **(overrides or {}).get(definition.name, {}),
            }
            self.services[definition.name] = ServiceProcess(
                definition.name,
                [sys.executable, *definition.command[1:]],
                env,
                log_dir / f"{definition.name}.log",
            )

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def provision(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Run the compose init step (``python -m videosense_shared.provision``); return what it
        printed (topic ARNs and queue URLs).

        Raises:
            subprocess.CalledProcessError: provisioning failed (its output is in the error).
        """
        env = {**self._base, **common_environment(self.deployment), **self._common_overrides}
        done = subprocess.run(
            [sys.executable, "-m", "videosense_shared.provision"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def start_all(self) -> None:
        """Start every service."""
        for service in self.services.values():
            service.start()

    def stop_all(self) -> dict[str, int | None]:
        """Stop every service gracefully (SIGTERM, then SIGKILL); return the exit codes."""
        # All at once, so that their drains overlap.
        for service in self.services.values():
            service.terminate()
        return {name: service.stop() for name, service in self.services.items()}

    @contextmanager
    def running(self) -> Iterator[ServiceFleet]:
        """Start every service; stop them all on the way out, whatever happened."""
        try:
            self.start_all()
            yield self
        finally:
            self.stop_all()
