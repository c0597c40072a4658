"""Chaos: no video is ever lost, stuck or mixed up while services keep dying.

The six services run as separate processes, exactly as docker compose runs them (``python -m
<service>`` with the compose environment), on the test emulator. A small mixed workload goes in
(good clips with and without audio, a duplicate notification, an overwritten key, a unicode key,
a text file named .mp4, a malformed message) while:

- a seeded monkey SIGKILLs services at random moments, and a supervisor restarts each after a
  short pause (compose's restart policy);
- the frame extractor is SIGKILLed every time it starts work on one particular video, past its
  queue's receive limit, as a decoder that crashes on that file would be.

Then every video has exactly one ``VideoCompleted``, none is left ``processing``, each has the
status its content calls for (the crash-looping one with the frame stage ``failed`` and a
"gave up after" reason), and the dead-letter queues hold the malformed message and nothing else.

The emulator is the embedded one, a moto server of its own (whose DynamoDB answers one request
at a time: :mod:`videosense.moto_server`), or whatever ``AWS_ENDPOINT_URL`` names. Replay a run
with ``CHAOS_SEED=<seed printed by the test>``; each service's log is in the test's temporary
directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import secrets
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.captioner.tiny_blip import build_tiny_blip
from tests.support.chaos import ChaosMonkey, CrashOnPickup, Supervisor
from tests.support.clips import make_cut_clip
from tests.support.service_processes import ServiceFleet
from tests.support.taps import tap
from tests.support.waiting import eventually
from videosense.emulator import EMULATOR_ENV, Emulator
from videosense_deploy.environment import Deployment
from videosense_shared.aws import AwsClients
from videosense_shared.bus import ERROR_ATTRIBUTE
from videosense_shared.bus.stage_worker import CRASHED
from videosense_shared.ids import video_id_for
from videosense_shared.messages import Stage, StageStatus, VideoCompleted, VideoStatus
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.store.keys import HEADER
from videosense_shared.topology import (
    AGGREGATOR,
    FRAME_EXTRACTOR,
    INGEST,
    TOPOLOGY,
    VIDEO_COMPLETED,
)

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

#: The frame extractor's receive limit in this test: the crash-looping video uses it up in
#: seconds (two crashed deliveries, then the give-up).
FRAMES_RECEIVE_LIMIT = 3
#: Visibility windows (queues and consumers): a killed service's messages come back this soon.
FRAMES_VISIBILITY_S = 5
VISIBILITY_S = 8
#: Random kills per service, and in all. With the topology's receive limit of 5 elsewhere, two
#: kills leave every message two deliveries to spare. The frame extractor (limit 3) gets one, and
#: only once the crash-looping video is over: a kill during that video's last delivery would take
#: away the one chance to say why the stage ended, which only a per-video deadline can catch.
#: One for the captioner: each restart loads its model again, the slowest start of all.
RANDOM_KILL_CAPS = {
    "ingest": 2,
    "aggregator": 2,
    "recognizer": 1,
    "transcriber": 1,
    "captioner": 1,
    "frame-extractor": 1,
    "indexer": 1,
    # Idle here (no upload asks for redaction or clips), killed all the same: a restart must
    # not disturb the others.
    "redactor": 1,
    "clipper": 1,
}
RANDOM_KILLS = 6
DEADLINE_S = 240.0
MALFORMED = "this is {not json at all"
#: Accents, CJK, a space and a "#": every key-encoding trap of S3 notifications at once.
UNICODE_NAME = "vidéo ünïcode 日本 #1.mp4"


@dataclass(frozen=True)
class Upload:
    """One object to upload: its content, its key name, what its video must end as, and for a
    good clip what its document must show (scenes, and whether it has a soundtrack)."""

    data: bytes
    name: str
    status: VideoStatus
    scenes: int = 0
    audio: bool = False


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_blip(tmp_path_factory.mktemp("models") / "tiny-blip")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("chaos-clips")
    notes = folder / "notes.mp4"
    notes.write_text("meeting notes, not a video\n" * 40)
    paths = {
        # Heavier than the rest, so the work it kills the extractor in takes a while.
        "crash": make_cut_clip(
            folder / "crash.mp4", cut_frames=[25, 50], total_frames=75, size=(640, 360), noise=8
        ),
        "audio": make_cut_clip(folder / "audio.mp4", cut_frames=[20], total_frames=50),
        "silent": make_cut_clip(
            folder / "silent.mp4", cut_frames=[15], total_frames=40, audio=False
        ),
        "unicode": make_cut_clip(folder / "unicode.mp4", cut_frames=[10, 30], total_frames=45),
        "first": make_cut_clip(folder / "first.mp4", cut_frames=[12], total_frames=25),
        "second": make_cut_clip(
            folder / "second.mp4", cut_frames=[20, 40], total_frames=60, audio=False
        ),
        "notes": notes,
    }
    return {name: path.read_bytes() for name, path in paths.items()}


def _seed() -> int:
    raw = os.environ.get("CHAOS_SEED")
    return int(raw) if raw else secrets.randbelow(2**32)


def _consumer_overrides(package: str, visibility_s: int) -> dict[str, str]:
    own = f"VIDEOSENSE_{package.upper()}_"
    return {
        f"{own}VISIBILITY_TIMEOUT_S": str(visibility_s),
        f"{own}WAIT_TIME_S": "1",
        f"{own}DRAIN_TIMEOUT_S": "5",
    }


def _overrides(tiny_blip: Path, cache: Path) -> dict[str, dict[str, str]]:
    """What this test changes in the compose environment: short windows, an offline model."""
    return {
        "ingest": _consumer_overrides("ingest", VISIBILITY_S),
        "frame-extractor": {
            **_consumer_overrides("frame_extractor", FRAMES_VISIBILITY_S),
            # More than one chunk per video: the keyframe stages see several messages each.
            "VIDEOSENSE_FRAME_EXTRACTOR_CHUNK_SIZE": "2",
        },
        "transcriber": {**_consumer_overrides("transcriber", VISIBILITY_S), "HF_HOME": str(cache)},
        "captioner": {
            **_consumer_overrides("captioner", VISIBILITY_S),
            "VIDEOSENSE_CAPTIONER_MODEL": str(tiny_blip),
            "VIDEOSENSE_CAPTIONER_MAX_TOKENS": "3",
            "VIDEOSENSE_CAPTIONER_OFFLINE": "true",
            "HF_HOME": str(cache),
        },
        "recognizer": _consumer_overrides("recognizer", VISIBILITY_S),
        "aggregator": {
            **_consumer_overrides("aggregator", VISIBILITY_S),
            # Shorter than the visibility window: a completion a killed worker left leased is
            # free again by the time its message comes back.
            "VIDEOSENSE_AGGREGATOR_COMPLETION_LEASE_S": "2",
        },
        # A message a killed worker held comes back within the window the test waits for.
        "indexer": _consumer_overrides("indexer", VISIBILITY_S),
        "redactor": _consumer_overrides("redactor", VISIBILITY_S),
        "clipper": _consumer_overrides("clipper", VISIBILITY_S),
    }


async def _tune_queues(aws: AwsClients, urls: dict[str, str]) -> None:
    """Short visibility windows everywhere; a small receive limit on the frame extractor's
    queue (set as an operator would, before the services start and read it)."""
    for queue in TOPOLOGY.queues:
        url = urls[queue.name]
        visibility = FRAMES_VISIBILITY_S if queue.name == FRAME_EXTRACTOR else VISIBILITY_S
        attributes = {"VisibilityTimeout": str(visibility)}
        if queue.name == FRAME_EXTRACTOR:
            got = await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
            redrive = json.loads(got["Attributes"]["RedrivePolicy"])
            redrive["maxReceiveCount"] = FRAMES_RECEIVE_LIMIT
            attributes["RedrivePolicy"] = json.dumps(redrive)
        await aws.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]


def _etag(data: bytes) -> str:
    # A single PUT's ETag is the MD5 of the body: the video id is known before the upload.
    return hashlib.md5(data).hexdigest()


async def _put(aws: AwsClients, common: CommonSettings, data: bytes, name: str) -> str:
    key = f"{common.uploads_prefix}{name}"
    resp = await aws.s3.put_object(Bucket=common.bucket, Key=key, Body=data)
    return video_id_for(common.bucket, key, resp.get("VersionId") or resp["ETag"])


def _notification(common: CommonSettings, data: bytes, name: str) -> str:
    """The S3 notification of an upload, as S3 sends it (key URL-encoded)."""
    key = urllib.parse.quote_plus(f"{common.uploads_prefix}{name}")
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-11-22T00:00:00.000Z",
        "s3": {
            "bucket": {"name": common.bucket},
            "object": {"key": key, "size": len(data), "eTag": _etag(data)},
        },
    }
    return json.dumps({"Records": [record]})


class Completions:
    """Every ``VideoCompleted`` seen on the tap queue, in order, duplicates included."""

    def __init__(self, aws: AwsClients, url: str) -> None:
        self._aws = aws
        self._url = url
        self.events: list[VideoCompleted] = []

    async def poll(self) -> None:
        resp = await self._aws.sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in resp.get("Messages", []):
            self.events.append(VideoCompleted.model_validate_json(message["Body"]))
            await self._aws.sqs.delete_message(
                QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"]
            )

    def videos(self) -> set[str]:
        return {event.video_id for event in self.events}


async def _queue_depth(aws: AwsClients, url: str) -> int:
    got = await aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )
    return sum(int(value) for value in got["Attributes"].values())


async def _dead_letters(aws: AwsClients, url: str) -> list[dict[str, Any]]:
    """Everything on a dead-letter queue (received, not deleted: hidden for a minute)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        resp = await aws.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        )
        batch = resp.get("Messages", [])
        if not batch:
            return list(seen.values())
        for message in batch:
            seen[message["MessageId"]] = dict(message)


async def _unfinished(aws: AwsClients, table: str) -> list[str]:
    """Video ids whose header still says ``processing``."""
    stuck = []
    pages = aws.dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="sk = :h",
        ExpressionAttributeValues={":h": {"S": HEADER}},
    )
    async for page in pages:
        for item in page.get("Items", []):
            if item["status"]["S"] == VideoStatus.PROCESSING.value:
                stuck.append(item["video_id"]["S"])
    return stuck


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The endpoint this test runs on: ``AWS_ENDPOINT_URL`` if set, else an embedded emulator of
    its own (the load here would slow the other tests' shared one)."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    with Emulator() as emulator:
        yield emulator.endpoint


@pytest.fixture
def chaos_env(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this process at the endpoint, with a fresh name prefix (as ``aws_env`` does)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **EMULATOR_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "VIDEOSENSE_PREFIX": prefix,
        "VIDEOSENSE_BUCKET": f"{prefix}-media",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
async def aws(chaos_env: dict[str, str]) -> AsyncIterator[AwsClients]:
    async with AwsClients(CommonSettings().region) as clients:
        yield clients


async def test_no_video_is_lost_stuck_or_mixed_up_while_services_keep_dying(
    aws: AwsClients, chaos_env: dict[str, str], clips: dict[str, bytes], tiny_blip: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    seed = _seed()
    print(f"chaos seed: {seed} (replay with CHAOS_SEED={seed})")
    rng = random.Random(seed)
    common = CommonSettings()
    # GIVEN the six services as processes, with the compose environment, on the emulator
    fleet = ServiceFleet(
        endpoint=chaos_env["AWS_ENDPOINT_URL"],
        deployment=Deployment(
            prefix=common.prefix,
            bucket=common.bucket,
            table=common.table_name,
            region=common.region,
            # Debug: the consumer's "message received" line is how a pickup is seen.
            log_level="DEBUG",
            # The indexer's SQLite file in the test's directory; no text model to load.
            search={
                "VIDEOSENSE_SEARCH_INDEX_PATH": str(tmp_path / "search.sqlite"),
                "VIDEOSENSE_SEARCH_EMBEDDINGS": "false",
            },
        ),
        log_dir=tmp_path,
        overrides=_overrides(tiny_blip, tmp_path / "hf"),
    )
    assert set(fleet.services) == set(RANDOM_KILL_CAPS), "a service is missing or unexpected"
    provisioned = await asyncio.to_thread(fleet.provision)
    urls: dict[str, str] = provisioned["queues"]
    await _tune_queues(aws, urls)
    completions = Completions(
        aws, await tap(aws, common, provisioned["topics"][VIDEO_COMPLETED], "tap-completed")
    )
    # AND a workload whose video ids are known up front (a single PUT's ETag is its MD5)
    crash_id = video_id_for(
        common.bucket, f"{common.uploads_prefix}crash loop.mp4", _etag(clips["crash"])
    )
    # AND a frame extractor that dies whenever it starts work on that one video
    crash = CrashOnPickup(crash_id, FRAMES_RECEIVE_LIMIT)
    fleet["frame-extractor"].watchers.append(crash)

    def pool() -> list[str]:
        # The frame extractor only joins once the crash-looping video's last delivery is over.
        names = [name for name in RANDOM_KILL_CAPS if name != "frame-extractor"]
        return [*names, "frame-extractor"] if crash_done() else names

    def crash_done() -> bool:
        # Over once the aggregator has folded the give-up: the frame extractor logs "frames
        # failed" just before it publishes StageFailed, and a kill between the two would leave
        # the video to the deadline sweep (900 s), far past this test's wait.
        return any(
            record.get("event") == "stage ended without result"
            and record.get("stage") == "frames"
            and record.get("video_id") == crash_id
            for record in list(fleet["aggregator"].records)
        )

    stop = asyncio.Event()
    supervisor = Supervisor(fleet.services, pause_s=1.0)
    monkey = ChaosMonkey(fleet.services, rng, pool, RANDOM_KILL_CAPS, RANDOM_KILLS)
    started = time.monotonic()
    with fleet.running():
        tasks = [asyncio.create_task(supervisor.run(stop))]
        try:
            await eventually(
                lambda: _all_ready(fleet), timeout_s=120, interval_s=0.2, what="services ready"
            )
            tasks.append(asyncio.create_task(monkey.run(stop)))
            # WHEN the workload goes in while services keep dying
            # (the overwritten key first: its new content goes in once its first video is
            # announced, since a version replaced before it was read is another matter)
            first = Upload(clips["first"], "overwritten.mp4", VideoStatus.COMPLETE, 2, True)
            uploads = [
                first,
                Upload(clips["crash"], "crash loop.mp4", VideoStatus.PARTIAL),
                Upload(clips["audio"], "with audio.mp4", VideoStatus.COMPLETE, 2, True),
                Upload(clips["silent"], "silent.mp4", VideoStatus.COMPLETE, 2, False),
                Upload(clips["unicode"], UNICODE_NAME, VideoStatus.COMPLETE, 3, True),
                Upload(clips["notes"], "notes.mp4", VideoStatus.FAILED),
            ]
            expected: dict[str, Upload] = {}
            for upload in uploads:
                expected[await _put(aws, common, upload.data, upload.name)] = upload
            assert crash_id in expected
            first_id = next(iter(expected))
            # AND S3 delivers one notification twice, while its video is in flight
            await aws.sqs.send_message(
                QueueUrl=urls[INGEST],
                MessageBody=_notification(common, clips["unicode"], UNICODE_NAME),
            )
            # AND a malformed message reaches the aggregator
            await aws.sqs.send_message(QueueUrl=urls[AGGREGATOR], MessageBody=MALFORMED)
            # AND the same key is written again, other content: a new version, so a new video
            overwrite: Upload | None = Upload(
                clips["second"], "overwritten.mp4", VideoStatus.COMPLETE, 3, False
            )

            async def all_completed() -> bool:
                nonlocal overwrite
                await completions.poll()
                for name, service in fleet.services.items():
                    assert not service.crashes, f"{name} exited on its own: {service.crashes}"
                if overwrite is not None and first_id in completions.videos():
                    expected[await _put(aws, common, overwrite.data, overwrite.name)] = overwrite
                    overwrite = None
                return overwrite is None and completions.videos() >= set(expected)

            try:
                await eventually(all_completed, timeout_s=DEADLINE_S, interval_s=0)
            except AssertionError as err:
                missing = {v: u.name for v, u in expected.items() if v not in completions.videos()}
                raise AssertionError(f"{err}: no VideoCompleted for {missing}") from err
            assert len(expected) == len(uploads) + 1, "two uploads got the same video id"
            # Late duplicates have a few seconds to show up.
            settle = time.monotonic() + 4
            while time.monotonic() < settle:
                await completions.poll()
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
            print(f"chaos: {len(monkey.journal)} random kills {monkey.journal}")
            print(f"chaos: crash-loop kills at receive counts {crash.kills}; {elapsed:.0f} s")
            print(f"chaos: logs in {tmp_path}")

        # THEN the crash loop really happened: killed on every delivery but the last, which
        # reached the frame extractor
        assert crash.kills == list(range(1, FRAMES_RECEIVE_LIMIT)), crash.kills
        assert crash.last_pickup.is_set()
        # AND every video was announced exactly once, and nothing else was. (The one repeat
        # the design allows, a crash between publishing and recording it, repeats the very
        # same event, message id included, for subscribers to drop: counted by id.)
        by_video: dict[str, dict[str, VideoCompleted]] = {}
        for event in completions.events:
            by_video.setdefault(event.video_id, {})[event.message_id] = event
        assert set(by_video) == set(expected)
        twice = {v: list(events.values()) for v, events in by_video.items() if len(events) > 1}
        assert not twice, f"more than one VideoCompleted: {twice}"
        repeats = len(completions.events) - len(by_video)
        print(f"chaos: {repeats} repeated deliveries of a VideoCompleted")
        # AND no video is left processing
        assert await _unfinished(aws, common.table_name) == []
        # AND each video ended as its content calls for, its document about its own upload
        store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        for video_id, upload in expected.items():
            [event] = by_video[video_id].values()
            document = await store.read(video_id)
            what = f"{upload.name} ({video_id})"
            assert event.status == document.status == upload.status, what
            assert document.source.key == f"{common.uploads_prefix}{upload.name}", what
            assert document.source.size_bytes == len(upload.data), what
            if upload.status == VideoStatus.COMPLETE:
                # Its own content: its scenes, its soundtrack, keyframes stored under its id.
                assert len(document.scenes) == upload.scenes, what
                transcript = StageStatus.COMPLETE if upload.audio else StageStatus.SKIPPED
                assert document.stages[Stage.TRANSCRIPT].status == transcript, what
                assert document.keyframes, what
                for keyframe in document.keyframes:
                    assert keyframe.image.key.startswith(f"frames/{video_id}/"), what
                    assert keyframe.caption, what
        notes = next(v for v, u in expected.items() if u.name == "notes.mp4")
        assert (await store.read(notes)).error == (
            "not a video: Invalid data found when processing input"
        )
        crashed = await store.read(crash_id)
        frames = crashed.stages[Stage.FRAMES]
        assert frames.status == StageStatus.FAILED
        assert frames.error == f"gave up after {FRAMES_RECEIVE_LIMIT - 1} deliveries: {CRASHED}"
        assert crashed.stages[Stage.TRANSCRIPT].status == StageStatus.COMPLETE
        # AND nothing is left looping on a work queue
        for queue in TOPOLOGY.queues:
            await eventually(
                partial(_queue_empty, aws, urls[queue.name]),
                timeout_s=30,
                what=f"{queue.name} drained",
            )
        # AND the dead-letter queues hold the malformed message and nothing else
        letters = {
            queue.name: await _dead_letters(aws, urls[queue.dlq_name]) for queue in TOPOLOGY.queues
        }
        [malformed] = letters.pop(AGGREGATOR)
        assert malformed["Body"] == MALFORMED
        assert malformed["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
        assert all(not found for found in letters.values()), letters


async def _all_ready(fleet: ServiceFleet) -> bool:
    return all(service.ready for service in fleet.services.values())


async def _queue_empty(aws: AwsClients, url: str) -> bool:
    return await _queue_depth(aws, url) == 0
