"""A stack whose services are separate processes, on the moto emulator or on LocalStack.

What the soak (``bench_soak.py``) and the memory benchmark's LocalStack mode
(``bench_memory.py --emulator localstack``) share: start the emulator, provision the stack the
way compose's init step does (``ServiceFleet.provision``), start the services as
``python -m <package>`` with their compose environment (``tests/support/service_processes.py``),
tap the completion topic with a queue of the benchmark's own, upload with the project's upload
code (``videosense_shared.objects.upload_file``: 8 MiB parts, as the CLI uploads), wait for
completions and read the documents.

LocalStack runs from its own virtualenv in host mode (``tests/localstack/launcher.py``, built on
first use like the test suite's LocalStack run), with long-term keys: it checks presigned-URL
signatures and rejects a URL that carries a session token (``docs/emulators.md``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # The fleet and the LocalStack launcher live with the tests, at the repository root.
    sys.path.insert(0, str(ROOT))

from ingest.settings import STAGES_METADATA, requestable_stages  # noqa: E402
from tests.localstack import launcher  # noqa: E402
from tests.support.service_processes import ServiceFleet, ServiceProcess  # noqa: E402
from tests.support.taps import tap  # noqa: E402
from videosense.emulator import EMULATOR_ENV, Emulator  # noqa: E402
from videosense_deploy.environment import Deployment  # noqa: E402
from videosense_shared.aws import AwsClients  # noqa: E402
from videosense_shared.document import VideoDocument  # noqa: E402
from videosense_shared.ids import video_id_for  # noqa: E402
from videosense_shared.messages import Stage, VideoCompleted  # noqa: E402
from videosense_shared.objects import upload_file  # noqa: E402
from videosense_shared.services import AGGREGATOR_SERVICE, INGEST_SERVICE, REGISTRY  # noqa: E402
from videosense_shared.settings import CommonSettings  # noqa: E402
from videosense_shared.store import DynamoDocumentStore  # noqa: E402
from videosense_shared.topology import VIDEO_COMPLETED  # noqa: E402

#: The emulators a benchmark can run the services against.
EMULATORS = ("moto", "localstack")


@dataclass(frozen=True)
class Endpoint:
    """A running emulator: its name, URL and the credentials (keys and region) to use on it."""

    emulator: str
    url: str
    credentials: Mapping[str, str]


def localstack_credentials() -> dict[str, str]:
    """The embedded emulator's settings with LocalStack's long-term keys and no session token
    (LocalStack rejects a presigned URL that carries one)."""
    return launcher.client_credentials(EMULATOR_ENV)


@contextmanager
def running_emulator(emulator: str, log_dir: Path) -> Iterator[Endpoint]:
    """Start ``emulator`` (one of :data:`EMULATORS`) as a child process; stop it on the way out.

    LocalStack's log goes to ``log_dir/localstack.log``.

    Raises:
        SystemExit: no Python >= 3.13 for LocalStack, or its virtualenv could not be built.
        ValueError: an unknown emulator.
        launcher.LocalStackError: LocalStack did not start.
    """
    if emulator == "moto":
        with Emulator() as moto:
            yield Endpoint(emulator, moto.endpoint, dict(EMULATOR_ENV))
        return
    if emulator != "localstack":
        raise ValueError(f"unknown emulator {emulator!r} (one of {', '.join(EMULATORS)})")
    python = launcher.find_python()
    if python is None:
        raise SystemExit(
            f"LocalStack {launcher.VERSION} needs a Python >= 3.13: none found (python3.13 on "
            f"PATH, pyenv, or ${launcher.PYTHON_ENV})"
        )
    try:
        venv_python = launcher.ensure_venv(python)
    except launcher.LocalStackError as err:
        raise SystemExit(str(err)) from err
    with launcher.LocalStack(venv_python, log_dir / "localstack.log") as localstack:
        print(
            f"[LocalStack {launcher.VERSION} on {localstack.endpoint}: healthy in "
            f"{localstack.started_in_s:.1f} s; log {localstack.log_path}]",
            flush=True,
        )
        yield Endpoint(emulator, localstack.endpoint, localstack_credentials())


def services_for(stages: str) -> tuple[str, ...]:
    """The services (compose names, in the registry's order) a video asking for ``stages``
    needs: ingest, the aggregator, and the service of every stage, ``frames`` included when a
    keyframe stage brings it in.

    Raises:
        ValueError: an unknown stage.
    """
    wanted = set(requestable_stages(stages, tuple(Stage)))
    always = {INGEST_SERVICE.name, AGGREGATOR_SERVICE.name}
    return tuple(info.name for info in REGISTRY if info.name in always or info.stage in wanted)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    # This process's own clients read the endpoint and keys from the environment; a session
    # token left over from another emulator would spoil LocalStack's signatures.
    names = {*values, "AWS_SESSION_TOKEN"}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ProcessStack:
    """The emulator, the stack provisioned on it and the services as processes, ready for
    uploads. Use as ``async with ProcessStack(...) as stack:``.

    ``services``: the compose names to run (default: every deployable service); ``replicas``:
    how many processes of a service (``docker compose up --scale``), by name; ``overrides``:
    settings added to a service's compose environment, by name. Service logs go to
    ``log_dir/<name>.log``.
    """

    def __init__(
        self,
        emulator: str,
        log_dir: Path,
        prefix: str,
        *,
        services: Collection[str] | None = None,
        replicas: Mapping[str, int] | None = None,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        ready_timeout_s: float = 600.0,
    ) -> None:
        self.emulator = emulator
        self.log_dir = log_dir
        self.common = CommonSettings(prefix=prefix, bucket=f"{prefix}-media")
        self._services = services
        self._replicas = dict(replicas or {})
        self._overrides = overrides
        self._ready_timeout = ready_timeout_s
        self._sync = ExitStack()
        self._async = AsyncExitStack()
        self.endpoint: Endpoint
        self.fleet: ServiceFleet
        self.aws: AwsClients
        self.store: DynamoDocumentStore
        self.tap_url = ""

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        try:
            await self._async.aclose()
        finally:
            # Services stop (SIGTERM, a drain) before the emulator they talk to.
            await asyncio.to_thread(self._sync.close)

    async def _start(self) -> None:
        common = self.common
        self.endpoint = await asyncio.to_thread(
            self._sync.enter_context, running_emulator(self.emulator, self.log_dir)
        )
        fleet = ServiceFleet(
            endpoint=self.endpoint.url,
            deployment=Deployment(
                prefix=common.prefix, bucket=common.bucket, table=common.table_name,
                region=common.region,
            ),
            log_dir=self.log_dir,
            overrides=self._overrides,
            credentials=self.endpoint.credentials,
        )  # fmt: skip
        if self._services is not None:
            unknown = set(self._services) - set(fleet.services)
            if unknown:
                raise ValueError(f"no such service(s): {', '.join(sorted(unknown))}")
            fleet.services = {n: s for n, s in fleet.services.items() if n in self._services}
        for name, count in self._replicas.items():
            first = fleet[name]
            for n in range(2, count + 1):
                fleet.services[f"{name}-{n}"] = ServiceProcess(
                    f"{name}-{n}", first.command, first.env, self.log_dir / f"{name}-{n}.log"
                )
        self.fleet = fleet
        provisioned = await asyncio.to_thread(fleet.provision)
        self._sync.enter_context(
            _environment({**self.endpoint.credentials, "AWS_ENDPOINT_URL": self.endpoint.url})
        )
        self.aws = await self._async.enter_async_context(AwsClients(common.region))
        self.store = DynamoDocumentStore(self.aws.dynamodb, common.table_name)
        self.tap_url = await tap(
            self.aws, self.common, provisioned["topics"][VIDEO_COMPLETED], "bench-completed"
        )
        self._async.push_async_callback(asyncio.to_thread, fleet.stop_all)
        fleet.start_all()
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout
        while not all(s.ready for s in self.fleet.services.values()):
            self.check_services()
            if time.monotonic() > deadline:
                waiting = [n for n, s in self.fleet.services.items() if not s.ready]
                raise TimeoutError(
                    f"service(s) {', '.join(waiting)} not consuming after "
                    f"{self._ready_timeout:.0f} s; logs in {self.log_dir}"
                )
            await asyncio.sleep(0.5)

    def check_services(self) -> None:
        """Raise if a service process has exited.

        Raises:
            RuntimeError: a service ended; the message names it and its log.
        """
        for name, service in self.fleet.services.items():
            if service.ended():
                raise RuntimeError(
                    f"service {name} exited ({service.crashes}); its log: {service.log_path}"
                )

    async def upload(self, path: Path, name: str, stages: str) -> str:
        """Upload ``path`` as ``uploads/<name>`` asking for ``stages``; return the video id it
        gets.

        Raises:
            botocore.exceptions.ClientError: S3 refused the upload.
        """
        key = f"{self.common.uploads_prefix}{name}"
        done = await upload_file(
            self.aws.s3, path, self.common.bucket, key, metadata={STAGES_METADATA: stages}
        )
        return video_id_for(self.common.bucket, key, done.version_id or done.etag)

    async def receive(self, wait_s: int = 1) -> list[tuple[float, VideoCompleted]]:
        """The completions that arrived (up to ten, long-polling ``wait_s``), each with the
        ``time.monotonic()`` it was received at; each is deleted from the tap."""
        resp = await self.aws.sqs.receive_message(
            QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        now = time.monotonic()
        got: list[tuple[float, VideoCompleted]] = []
        for msg in resp.get("Messages", []):
            await self.aws.sqs.delete_message(
                QueueUrl=self.tap_url, ReceiptHandle=msg["ReceiptHandle"]
            )
            got.append((now, VideoCompleted.model_validate(json.loads(msg["Body"]))))
        return got

    async def wait_completed(self, video_id: str, timeout_s: float) -> VideoCompleted:
        """Wait for the video's ``VideoCompleted`` (other videos' completions are dropped).

        Raises:
            TimeoutError: none within ``timeout_s``.
            RuntimeError: a service process exited meanwhile.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for _, event in await self.receive():
                if event.video_id == video_id:
                    return event
            self.check_services()
        raise TimeoutError(f"video {video_id} not completed within {timeout_s:.0f} s")

    async def read(self, video_id: str) -> VideoDocument:
        """The video's document.

        Raises:
            videosense_shared.store.DocumentNotFoundError: no such video.
        """
        return await self.store.read(video_id)
