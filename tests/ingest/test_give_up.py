"""Ingest's give-up rule on the emulator: on the last delivery the queue allows, an upload is not
tried again but ends as a ``failed`` document with the reason and its ``VideoCompleted``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.service import service
from ingest.settings import IngestSettings
from tests.support.clips import make_colour_clip
from tests.support.taps import tap
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, RetryableError
from videosense_shared.bus.stage_worker import CRASHED
from videosense_shared.ids import video_id_for
from videosense_shared.messages import VideoStatus
from videosense_shared.provision import provision
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.topology import VIDEO_INGESTED

pytestmark = pytest.mark.integration


@dataclass
class World:
    aws: AwsClients
    common: CommonSettings
    store: DynamoDocumentStore
    topic_arns: dict[str, str]

    async def tap(self, topic: str) -> str:
        """A queue receiving everything published on ``topic``."""
        return await tap(self.aws, self.common, self.topic_arns[topic], f"tap-{topic}")

    async def upload(self, key: str, body: bytes) -> str:
        """Put an object; return the body of the S3 notification announcing it."""
        put = await self.aws.s3.put_object(Bucket=self.common.bucket, Key=key, Body=body)
        record = {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "eventTime": "2026-12-01T12:00:00.000Z",
            "s3": {
                "bucket": {"name": self.common.bucket},
                "object": {"key": key, "size": len(body), "eTag": put["ETag"].strip('"')},
            },
        }
        return json.dumps({"Records": [record]})

    def video_id(self, key: str, notification: str) -> str:
        etag = json.loads(notification)["Records"][0]["s3"]["object"]["eTag"]
        return video_id_for(self.common.bucket, key, etag)


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        provisioned = await provision(aws, common)
        store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        yield World(aws, common, store, provisioned.topic_arns)


def _delivery(
    body: str, receive_count: int, max_receives: int = 5, message_id: str = "sqs-ingest-1"
) -> Delivery:
    return Delivery(
        body=body,
        attributes={},
        sqs_message_id=message_id,
        receive_count=receive_count,
        max_receives=max_receives,
    )


async def test_the_last_delivery_fails_the_upload_with_the_reason(world: World) -> None:
    # GIVEN an upload whose notification killed ingest on every delivery so far
    notification = await world.upload("uploads/crashes-the-prober.mp4", b"\x00" * 64)
    handler = service(IngestSettings()).make_handler(world.aws)
    # WHEN the last delivery the queue allows reaches a fresh ingest worker
    await handler(_delivery(notification, receive_count=5))
    # THEN the upload is not probed again: the video is failed, saying why, and completed
    header = await world.store.header(
        world.video_id("uploads/crashes-the-prober.mp4", notification)
    )
    assert header.status == VideoStatus.FAILED
    assert header.error == f"gave up after 4 deliveries: {CRASHED}"
    assert header.completion_published


async def test_an_upload_already_ingested_is_left_to_its_stages(world: World) -> None:
    # GIVEN a video that was ingested (its VideoIngested went out) before a crash
    notification = await world.upload("uploads/fine.mp4", b"\x00" * 64)
    handler = service(IngestSettings()).make_handler(world.aws)
    await handler(_delivery(notification, receive_count=1))
    video_id = world.video_id("uploads/fine.mp4", notification)
    before = await world.store.header(video_id)
    # WHEN the same notification comes back on its last delivery
    await handler(_delivery(notification, receive_count=5))
    # THEN the document is not touched (create refuses to overwrite it)
    after = await world.store.header(video_id)
    assert (after.status, after.error) == (before.status, before.error)


async def test_racing_notifications_of_one_upload_publish_video_ingested_once(
    world: World, tmp_path: Path
) -> None:
    # GIVEN a real clip uploaded once, and a tap on the VideoIngested topic
    clip = make_colour_clip(tmp_path / "race.mp4", colours=[("blue", 24)])
    notification = await world.upload("uploads/race.mp4", clip.read_bytes())
    tap = await world.tap(VIDEO_INGESTED)
    handler = service(IngestSettings()).make_handler(world.aws)
    # WHEN S3's notification and a duplicate of it reach two ingest workers at the same time
    outcomes = await asyncio.gather(
        handler(_delivery(notification, receive_count=1, message_id="sqs-a")),
        handler(_delivery(notification, receive_count=1, message_id="sqs-b")),
        return_exceptions=True,
    )
    # THEN one delivery published VideoIngested; the other backs off to be retried later
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, RetryableError) for o in refused), outcomes
    # AND retried, it finds the video ingested and starts nothing
    await handler(_delivery(notification, receive_count=2, message_id="sqs-b"))
    published = await receive_all(world.aws.sqs, tap)
    assert len(published) == 1
    header = await world.store.header(world.video_id("uploads/race.mp4", notification))
    assert header.ingest_published
