"""The deadline sweep on real DynamoDB (the emulator): the sparse "due" index, conditional
writes and one ``VideoCompleted`` per video, however many sweepers run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from aggregator.deadline import DeadlinePolicy, DeadlineSweeper
from aggregator.handler import Aggregator
from tests.support.video_messages import SampleVideo, delivery, sample_video
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Publisher
from videosense_shared.completion import Completion
from videosense_shared.messages import Stage, StageStatus, VideoStatus, utc_now
from videosense_shared.provision import provision, subscribe_queue
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.topology import DUE_INDEX, VIDEO_COMPLETED

pytestmark = pytest.mark.integration

POLICY = DeadlinePolicy(base_s=600, per_video_s=2.0)
GRACE = timedelta(seconds=2)


class World:
    """Provisioned topology, a store, an aggregator, sweepers and a tap on completions."""

    def __init__(self, aws: AwsClients, common: CommonSettings) -> None:
        self.aws = aws
        self.common = common
        self.store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        self.completion = Completion(
            self.store, aws.s3, Publisher(aws.sns, aws.sts, common), common.bucket, lease=GRACE
        )
        self.aggregator = Aggregator(self.store, self.completion, aws.s3)
        self.tap = ""

    def sweeper(self) -> DeadlineSweeper:
        return DeadlineSweeper(self.store, self.completion, POLICY, grace=GRACE)

    async def video(self, key: str, stages: tuple[Stage, ...]) -> SampleVideo:
        video = sample_video(self.common.bucket, key, stages=stages, duration_s=100.0)
        await video.create(self.store)
        await self.aggregator.handle(delivery(video.ingested))
        return video

    async def completed(self) -> list[dict[str, object]]:
        return [json.loads(m["Body"]) for m in await receive_all(self.aws.sqs, self.tap)]


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        provisioned = await provision(aws, common)
        w = World(aws, common)
        w.tap = (await aws.sqs.create_queue(QueueName=common.queue_name("tap")))["QueueUrl"]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=w.tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, provisioned.topic_arns[VIDEO_COMPLETED], arn, None)
        yield w


async def test_a_stage_that_never_reports_times_out_and_completes(world: World) -> None:
    # GIVEN a video whose frames stage finished and whose transcript never reports
    video = await world.video("uploads/stuck.mp4", (Stage.FRAMES, Stage.TRANSCRIPT))
    await world.aggregator.handle(delivery(video.frames[0]))
    sweeper = world.sweeper()
    now = utc_now()
    # WHEN the sweep first sees it THEN it sets the deadline: 600 + 2 x 100 x 2 = 1000 s
    assert await sweeper.sweep(now) == 0
    header = await world.store.header(video.video_id)
    assert header.due_at == header.created_at + timedelta(seconds=1000)
    assert await world.store.due_videos(now, 10) == []
    # WHEN the deadline passed
    assert await sweeper.sweep(header.created_at + timedelta(seconds=1001)) == 1
    # THEN the transcript failed with the reason and the video completed partial, once
    document = await world.store.read(video.video_id)
    assert document.status == VideoStatus.PARTIAL
    transcript = document.stages[Stage.TRANSCRIPT]
    assert transcript.status == StageStatus.FAILED
    assert (transcript.error or "").startswith("timed out after 1000 s")
    events = await world.completed()
    assert [(e["status"], e["stages"]) for e in events] == [
        ("partial", {"frames": "complete", "transcript": "failed"})
    ]
    stored = await world.aws.s3.get_object(
        Bucket=world.common.bucket, Key=f"documents/{video.video_id}.json"
    )
    async with stored["Body"] as body:
        assert json.loads(await body.read())["status"] == "partial"


async def test_two_sweepers_at_once_publish_one_completion(world: World) -> None:
    # GIVEN overdue videos on which no stage ever reported
    videos = [await world.video(f"uploads/race {i}.mp4", (Stage.FRAMES,)) for i in range(3)]
    late = utc_now() + timedelta(days=1)
    # WHEN two sweepers sweep at the same time
    await asyncio.gather(world.sweeper().sweep(late), world.sweeper().sweep(late))
    # THEN each video failed with the reason and was announced exactly once
    for video in videos:
        document = await world.store.read(video.video_id)
        assert document.status == VideoStatus.FAILED
        assert (document.stages[Stage.FRAMES].error or "").startswith("timed out after")
    events = await world.completed()
    assert sorted(str(e["video_id"]) for e in events) == sorted(v.video_id for v in videos)
    assert {e["status"] for e in events} == {"failed"}


async def test_a_video_that_finishes_normally_is_never_swept(world: World) -> None:
    # GIVEN a video that completed through its messages
    video = await world.video("uploads/fine.mp4", (Stage.FRAMES,))
    await world.aggregator.handle(delivery(video.frames[0]))
    assert (await world.store.read(video.video_id)).status == VideoStatus.COMPLETE
    # WHEN sweeps run long past its deadline
    late = utc_now() + timedelta(days=1)
    assert await world.sweeper().sweep(late) == 0
    # THEN it left the due index, its document is untouched, and one event went out
    assert await world.store.due_videos(late, 10) == []
    items = await world.aws.dynamodb.scan(TableName=world.common.table_name, IndexName=DUE_INDEX)
    assert items["Items"] == []
    assert (await world.store.read(video.video_id)).status == VideoStatus.COMPLETE
    assert len(await world.completed()) == 1


async def test_provisioning_adds_the_index_to_an_older_table(world: World) -> None:
    # GIVEN a document table created before the "due" index existed
    aws, name = world.aws, world.common.table_name + "-old"
    await aws.dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "video_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "video_id", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    # WHEN provisioned (twice: idempotent)
    old = world.common.model_copy(update={"table": name})
    await provision(aws, old)
    await provision(aws, old)
    # THEN the table has the index and the sweep can query it
    described = (await aws.dynamodb.describe_table(TableName=name))["Table"]
    assert [i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])] == [DUE_INDEX]
    store = DynamoDocumentStore(aws.dynamodb, name)
    video = sample_video(world.common.bucket, "uploads/upgraded.mp4")
    await video.create(store)
    assert await store.due_videos(utc_now(), 10) == [video.video_id]
