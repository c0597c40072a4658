"""Every answer the clipper publishes is recorded first as ``clips/{video_id}/{request_id}/
result.json`` (``empty`` and ``failed`` as well as ``complete``), so a poll of the record always
sees a request end; the give-up rule on the last delivery answers ``failed`` without trying
the cut again, records and publishes that answer, and still publishes it when the record
cannot be written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pytest

from clipper.handler import Clipper
from clipper.settings import ClipperSettings
from tests.support.taps import tap
from tests.support.waiting import receive_all
from tests.web.library_seed import seed_video
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Publisher
from videosense_shared.bus.envelope import delivery_from_sqs
from videosense_shared.bus.stage_worker import CRASHED
from videosense_shared.ids import message_id_for
from videosense_shared.layout import clips_result_key
from videosense_shared.messages import ClipRequested, ClipSelector, ClipsReady, ClipStatus
from videosense_shared.objects import read_bytes
from videosense_shared.provision import provision
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CLIPS_READY

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

pytestmark = pytest.mark.integration

MAX_RECEIVES = 3


@dataclass
class World:
    aws: AwsClients
    common: CommonSettings
    answers: str  # a queue receiving everything published on clips-ready

    def clipper(self, bucket: str | None = None) -> Clipper:
        publisher = Publisher(self.aws.sns, self.aws.sts, self.common)
        return Clipper(self.aws.s3, bucket or self.common.bucket, publisher, ClipperSettings())

    async def published(self) -> list[ClipsReady]:
        messages = await receive_all(self.aws.sqs, self.answers, settle_s=1.0)
        bodies = [delivery_from_sqs(cast("MessageTypeDef", m)).body for m in messages]
        return [ClipsReady.model_validate_json(body) for body in bodies]

    async def recorded(self, video_id: str, request_id: str) -> ClipsReady:
        raw = await read_bytes(
            self.aws.s3, self.common.bucket, clips_result_key(video_id, request_id)
        )
        return ClipsReady.model_validate_json(raw)

    async def keys(self, video_id: str) -> list[str]:
        listed = await self.aws.s3.list_objects_v2(
            Bucket=self.common.bucket, Prefix=f"clips/{video_id}/"
        )
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        provisioned = await provision(aws, common)
        answers = await tap(aws, common, provisioned.topic_arns[CLIPS_READY], "tap-clips")
        yield World(aws, common, answers)


def request(video_id: str, request_id: str, selector: ClipSelector) -> ClipRequested:
    return ClipRequested(
        message_id=message_id_for(request_id, "ClipRequested"),
        video_id=video_id,
        trace_id=request_id,
        request_id=request_id,
        selector=selector,
    )


def delivery(message: ClipRequested, receive_count: int) -> Delivery:
    return Delivery(
        body=message.model_dump_json(),
        attributes={"type": "ClipRequested"},
        sqs_message_id=f"sqs-{message.request_id}-{receive_count}",
        receive_count=receive_count,
        max_receives=MAX_RECEIVES,
    )


async def test_an_empty_answer_is_recorded_and_published(world: World) -> None:
    # GIVEN a finished video with no dog in it
    await seed_video(world.aws, world.common, "vnodog", "nodog.mp4")
    asked = request("vnodog", "req-empty", ClipSelector(label="Dog"))
    # WHEN the clipper handles a request for dogs
    await world.clipper().handle(delivery(asked, receive_count=1))
    # THEN the answer "no moments found" is published
    [published] = await world.published()
    assert published.status is ClipStatus.EMPTY
    assert published.reason == "no moments found for --label 'Dog'"
    # AND the same answer is recorded, the only object under the request's prefix
    assert await world.recorded("vnodog", "req-empty") == published
    assert await world.keys("vnodog") == [clips_result_key("vnodog", "req-empty")]


async def test_a_failed_answer_is_recorded_and_answers_a_repeat(world: World) -> None:
    # GIVEN a request for a video that has no finished document
    asked = request("vunknown", "req-failed", ClipSelector(from_s=0, to_s=1))
    clipper = world.clipper()
    # WHEN the clipper handles it
    await clipper.handle(delivery(asked, receive_count=1))
    # THEN a failed answer naming the video is published and recorded
    [published] = await world.published()
    assert published.status is ClipStatus.FAILED
    assert "vunknown has no finished document" in (published.reason or "")
    assert await world.recorded("vunknown", "req-failed") == published
    # WHEN the same request comes again / THEN it is answered from the record, unchanged
    await clipper.handle(delivery(asked, receive_count=2))
    assert await world.published() == [published]


async def test_the_last_delivery_gives_up_records_and_publishes_failed(world: World) -> None:
    # GIVEN a finished video and a request whose earlier deliveries killed the worker
    await seed_video(world.aws, world.common, "vcrash", "crash.mp4")
    asked = request("vcrash", "req-giveup", ClipSelector(label="Person"))
    # WHEN the last delivery the queue allows reaches a fresh clipper
    await world.clipper().handle(delivery(asked, receive_count=MAX_RECEIVES))
    # THEN the cut is not tried again: the answer is failed with the give-up reason
    [published] = await world.published()
    assert published.status is ClipStatus.FAILED
    assert published.reason == f"gave up after {MAX_RECEIVES - 1} deliveries: {CRASHED}"
    assert published.clips == ()
    # AND it is recorded, and no file was cut
    assert await world.recorded("vcrash", "req-giveup") == published
    assert await world.keys("vcrash") == [clips_result_key("vcrash", "req-giveup")]


async def test_the_give_up_answer_is_published_even_when_it_cannot_be_recorded(
    world: World,
) -> None:
    # GIVEN a clipper whose bucket refuses every write (it does not exist)
    clipper = world.clipper(bucket="videosense-no-such-bucket")
    asked = request("vgone", "req-unrecorded", ClipSelector(from_s=0, to_s=1))
    # WHEN the last delivery reaches it
    await clipper.handle(delivery(asked, receive_count=MAX_RECEIVES))
    # THEN the failed answer still goes out: it is the last chance to answer
    [published] = await world.published()
    assert published.status is ClipStatus.FAILED
    assert (published.request_id, published.video_id) == ("req-unrecorded", "vgone")
    assert (published.reason or "").startswith("gave up after")
