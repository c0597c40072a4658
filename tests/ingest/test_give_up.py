"""Ingest's give-up rule on the emulator: on the last delivery the queue allows, an upload is not
tried again but ends as a ``failed`` document with the reason and its ``VideoCompleted``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ingest.service import service
from ingest.settings import IngestSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery
from videosense_shared.bus.stage_worker import CRASHED
from videosense_shared.ids import video_id_for
from videosense_shared.messages import VideoStatus
from videosense_shared.provision import provision
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore

pytestmark = pytest.mark.integration


@dataclass
class World:
    aws: AwsClients
    common: CommonSettings
    store: DynamoDocumentStore

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
        await provision(aws, common)
        yield World(aws, common, DynamoDocumentStore(aws.dynamodb, common.table_name))


def _delivery(body: str, receive_count: int, max_receives: int = 5) -> Delivery:
    return Delivery(
        body=body,
        attributes={},
        sqs_message_id="sqs-ingest-1",
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
