"""A clip request the web app sent cannot stay pending forever (real emulator, no clipper
running at first): past its deadline its status reads ``failed``, "no clipper answered", and a
clipper that gets the request afterwards answers and records the very same failure."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clipper.handler import Clipper
from clipper.settings import ClipperSettings
from tests.web.library_seed import seed_video
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Publisher, queue_url
from videosense_shared.bus.envelope import delivery_from_sqs
from videosense_shared.layout import clips_result_key
from videosense_shared.messages import ClipsReady
from videosense_shared.objects import read_bytes
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CLIPPER

pytestmark = pytest.mark.integration

DEADLINE_S = 1.0


@pytest.fixture
def settings(aws_env: dict[str, str]) -> WebSettings:
    return WebSettings(clip_deadline_s=DEADLINE_S)


async def _delivery(aws: AwsClients, common: CommonSettings) -> Delivery:
    url = await queue_url(aws.sqs, common, CLIPPER)
    resp = await aws.sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"], AttributeNames=["All"]
    )
    [message] = resp["Messages"]
    return delivery_from_sqs(message)


async def test_an_unanswered_request_fails_at_its_deadline_for_every_reader(
    http: httpx.AsyncClient, aws: AwsClients
) -> None:
    # GIVEN a finished video and a clip request for it, with no clipper running
    common = CommonSettings()
    await seed_video(aws, common, "vwait1", "wait1.mp4")
    body = {"video_id": "vwait1", "selector": {"from_s": 0.5, "to_s": 1.5}}
    accepted = (await http.post("/api/clips", json=body)).json()
    url = accepted["status_url"]
    # THEN it is pending until its deadline, which its status shows
    pending = (await http.get(url)).json()
    assert pending["status"] == "pending"
    assert pending["deadline_at"] is not None
    # WHEN the deadline passes
    await asyncio.sleep(DEADLINE_S + 0.5)
    # THEN its status reads failed, saying no clipper answered (and so does the listing)
    failed = (await http.get(url)).json()
    assert failed["status"] == "failed"
    assert failed["reason"] == "no clipper answered within 1 s (is a clipper running?)"
    listed = (await http.get("/api/videos/vwait1/clips")).json()["requests"]
    assert [(r["request_id"], r["status"]) for r in listed] == [(accepted["request_id"], "failed")]
    # WHEN a clipper starts and finally gets the request
    publisher = Publisher(aws.sns, aws.sts, common)
    clipper = Clipper(aws.s3, common.bucket, publisher, ClipperSettings())
    await clipper.handle(await _delivery(aws, common))
    # THEN it records that same failure, cutting nothing, and the status does not change
    raw = await read_bytes(
        aws.s3, common.bucket, clips_result_key("vwait1", accepted["request_id"])
    )
    recorded = ClipsReady.model_validate_json(raw)
    assert recorded.status.value == "failed"
    assert recorded.reason == failed["reason"]
    assert recorded.clips == ()
    assert (await http.get(url)).json() == failed
