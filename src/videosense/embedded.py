"""The whole pipeline in one process: the embedded emulator, the provisioned topology, and every
service as an asyncio task consuming its own queue through the real bus."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

from aggregator.service import service as aggregator_service
from captioner.service import service as captioner_service
from captioner.settings import CaptionerSettings
from clipper.service import service as clipper_service
from frame_extractor.service import service as frame_extractor_service
from indexer.service import service as indexer_service
from ingest.handler import STAGES_METADATA
from ingest.service import service_for as ingest_service_for
from recognizer.service import service as recognizer_service
from redactor.service import service as redactor_service
from transcriber.service import service as transcriber_service
from videosense.emulator import Emulator
from videosense_shared import stages as stage_rules
from videosense_shared.aws import AwsClients
from videosense_shared.document import VideoDocument
from videosense_shared.ids import video_id_for
from videosense_shared.memory import limit_malloc
from videosense_shared.messages import Stage, VideoCompleted
from videosense_shared.objects import upload_file
from videosense_shared.provision import Provisioned, provision, subscribe_queue
from videosense_shared.runtime import ServiceSpec, serve
from videosense_shared.search import SearchIndex
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.topology import VIDEO_COMPLETED


def stage_services() -> list[ServiceSpec]:
    """The services that provide analysis stages, with settings read from the environment."""
    return [
        frame_extractor_service(),
        captioner_service(),
        recognizer_service(),
        transcriber_service(),
        redactor_service(),
    ]


def available_stages(services: Sequence[ServiceSpec] | None = None) -> tuple[Stage, ...]:
    """Stages provided by ``services`` (default: every built stage service)."""
    specs = stage_services() if services is None else services
    return stage_rules.available_stages(spec.stage for spec in specs)


def default_run_stages() -> tuple[Stage, ...]:
    """What ``videosense run`` analyses when no stages are asked for: everything that can run
    offline with the packaged models (frames, on-screen text and faces, the transcript), plus
    captions when a captioning backend or model is configured (no captioning model installs as
    a package, so the local default would need a download). Redaction makes a copy of the
    video rather than describing it: it runs when asked for (``--stages``, ``videosense
    redact``)."""
    captioner = CaptionerSettings()
    captions_configured = captioner.backend != "local" or bool(captioner.model)
    return tuple(
        stage
        for stage in available_stages()
        if (stage is not Stage.CAPTIONS or captions_configured)
        and stage not in stage_rules.ON_REQUEST_STAGES
    )


def all_services(extra: Sequence[ServiceSpec] = ()) -> list[ServiceSpec]:
    """Ingest, the stage services, the aggregator and the clipper; ingest accepts exactly the
    stages that run.

    A service in ``extra`` replaces the built-in one of the same name (e.g. a captioner with a
    particular model), or adds one.
    """
    overridden = {spec.name for spec in extra}
    stages = [*(s for s in stage_services() if s.name not in overridden), *extra]
    return [
        ingest_service_for(available_stages(stages)),
        *stages,
        aggregator_service(),
        clipper_service(),
    ]


class EmbeddedStack:
    """Emulator + topology + services. Use as ``async with EmbeddedStack() as stack``.

    ``endpoint``: an already-running emulator or LocalStack to use instead of starting one;
    ``port``: where the embedded emulator listens (default: a free port);
    ``extra_services``: stage services to run instead of (same name) or beside the built-in ones;
    ``search``: the search index the indexer writes (default: ``VIDEOSENSE_SEARCH_*``, the
    library index that ``videosense find`` reads).
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        port: int = 0,
        extra_services: Sequence[ServiceSpec] = (),
        search: SearchSettings | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._port = port
        self._extra = tuple(extra_services)
        self._search = search
        self.search_index: SearchIndex | None = None
        self._emulator: Emulator | None = None
        self._exit = AsyncExitStack()
        self._stop = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.common = CommonSettings()
        self.endpoint = ""
        self.provisioned: Provisioned | None = None
        self.completion_queue_url = ""
        self._completed: dict[str, list[VideoCompleted]] = {}

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def _start(self) -> None:
        # Before the services start their worker threads: the limits the compose and ECS
        # environments give each service process (videosense_shared.memory), set in this one.
        limit_malloc()
        if self._endpoint:
            self.endpoint = self._endpoint
            os.environ["AWS_ENDPOINT_URL"] = self._endpoint
        else:
            self._emulator = Emulator(port=self._port)
            await asyncio.to_thread(self._emulator.start)
            # The composition root points every SDK client in this process at the emulator;
            # services read nothing else from it.
            os.environ.update(self._emulator.env())
            self.endpoint = self._emulator.endpoint
        self.common = CommonSettings()
        self.aws = await self._exit.enter_async_context(AwsClients(self.common.region, pool=64))
        self.provisioned = await provision(self.aws, self.common)
        self.store = DynamoDocumentStore(self.aws.dynamodb, self.common.table_name)
        # A private queue on the completion topic: how this process learns a video is done.
        name = self.common.queue_name("cli-completed")
        self.completion_queue_url = (await self.aws.sqs.create_queue(QueueName=name))["QueueUrl"]
        attrs = await self.aws.sqs.get_queue_attributes(
            QueueUrl=self.completion_queue_url, AttributeNames=["QueueArn"]
        )
        await subscribe_queue(
            self.aws,
            self.provisioned.topic_arns[VIDEO_COMPLETED],
            attrs["Attributes"]["QueueArn"],
            None,
        )
        self.search_index = await open_search_index(self._search or SearchSettings(), aws=self.aws)
        for spec in self._services():
            self._tasks[spec.name] = asyncio.create_task(serve(spec, self.aws, self._stop))

    def _services(self) -> list[ServiceSpec]:
        # The indexer writes the index this stack opened (and closes after the services).
        return [*all_services(self._extra), indexer_service(index=self.search_index)]

    async def kill_service(self, name: str) -> None:
        """Cancel one service's task abruptly, without the graceful drain (a crash)."""
        task = self._tasks.pop(name)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def start_service(self, name: str) -> None:
        """(Re)start one service by name.

        Raises:
            KeyError: no such service.
        """
        specs = {spec.name: spec for spec in self._services()}
        self._tasks[name] = asyncio.create_task(serve(specs[name], self.aws, self._stop))

    async def upload(self, path: Path, stages: tuple[Stage, ...] | None = None) -> str:
        """Upload a local file under the uploads prefix; returns the video id it will get."""
        key = f"{self.common.uploads_prefix}{path.name}"
        metadata: Mapping[str, str] = (
            {STAGES_METADATA: ",".join(s.value for s in stages)} if stages else {}
        )
        # In parts from disk: the emulator would hold a single PUT's body whole.
        done = await upload_file(
            self.aws.s3, path, self.common.bucket, key, metadata=dict(metadata)
        )
        return video_id_for(self.common.bucket, key, done.version_id or done.etag)

    async def wait_completed(self, video_id: str, timeout_s: float) -> VideoCompleted:
        """Wait for the video's ``VideoCompleted`` on the private completion queue.

        Raises:
            TimeoutError: not completed within ``timeout_s``.
            RuntimeError: a service task died.
        """
        async with asyncio.timeout(timeout_s):
            while True:
                # Events for other videos are kept for their own waiters.
                if self._completed.get(video_id):
                    return self._completed[video_id].pop(0)
                self._check_services()
                resp = await self.aws.sqs.receive_message(
                    QueueUrl=self.completion_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
                for msg in resp.get("Messages", []):
                    await self.aws.sqs.delete_message(
                        QueueUrl=self.completion_queue_url, ReceiptHandle=msg["ReceiptHandle"]
                    )
                    event = VideoCompleted.model_validate(json.loads(msg["Body"]))
                    self._completed.setdefault(event.video_id, []).append(event)

    async def wait_indexed(self, document: VideoDocument, timeout_s: float) -> None:
        """Wait until the search index holds this completion of the video (the indexer runs
        after ``VideoCompleted``, so a command that reads the index waits for it).

        Raises:
            TimeoutError: not indexed within ``timeout_s``.
            RuntimeError: a service task died, or the stack has no index.
        """
        if self.search_index is None:
            raise RuntimeError("the stack has no search index")
        async with asyncio.timeout(timeout_s):
            while True:
                indexed = await self.search_index.get_video(document.video_id)
                if indexed is not None and indexed.completed_at == document.completed_at:
                    return
                self._check_services()
                await asyncio.sleep(0.2)

    def _check_services(self) -> None:
        for task in self._tasks.values():
            if task.done():
                exc = None if task.cancelled() else task.exception()
                raise RuntimeError(f"a service stopped unexpectedly: {exc!r}")

    async def run_forever(self) -> None:
        """Serve until cancelled (``videosense up``).

        Raises:
            RuntimeError: a service task died.
        """
        while True:
            self._check_services()
            await asyncio.sleep(1)

    async def close(self) -> None:
        """Drain the services, close clients, stop the emulator."""
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self.search_index is not None:
            await self.search_index.close()
        await self._exit.aclose()
        if self._emulator is not None:
            await asyncio.to_thread(self._emulator.stop)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
