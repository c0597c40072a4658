"""A search hit's "Clip" button in a browser, over a seeded and indexed video: the button sends
the request its hit stands for (on-screen text by the query words) to the clipper's queue, shows
progress under the hit, then the answer's download link once the clipper has recorded it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from playwright.async_api import Page

from tests.support.waiting import eventually
from tests.web.browser import chromium_page, needs_chromium
from tests.web.library_seed import seed_video
from videosense.web.server import serving
from videosense_shared.aws import AwsClients
from videosense_shared.bus import queue_url
from videosense_shared.layout import clip_key, clips_result_key
from videosense_shared.messages import (
    ClipFile,
    ClipRange,
    ClipRequested,
    ClipSelector,
    ClipsReady,
    ClipStatus,
    utc_now,
)
from videosense_shared.search import SearchIndex
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.topology import CLIPPER

pytestmark = [pytest.mark.e2e, needs_chromium]


@pytest.fixture
async def site(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app, "127.0.0.1", 0) as url:
        yield url


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium_page() as opened:
        yield opened


async def test_a_hits_clip_button_requests_its_moments_and_shows_the_file(
    site: str, page: Page, aws: AwsClients, index: SearchIndex, aws_env: dict[str, str]
) -> None:
    # GIVEN a finished, indexed video showing "Mission briefing" in its first scene
    common = CommonSettings()
    await seed_video(aws, common, "vhit", "hit.mp4")
    await index.index_video(await DynamoDocumentStore(aws.dynamodb, common.table_name).read("vhit"))
    # WHEN the words are searched and the on-screen text hit's Clip button is pressed
    await page.goto(f"{site}/search?q=mission+briefing&kind=text")
    row = page.locator('section[data-video-id="vhit"] li.hit-row').first
    await row.locator("button.clip-hit").click()
    # THEN the request for every scene showing the query words waits on the clipper's queue
    url = await queue_url(aws.sqs, common, CLIPPER)

    async def sent() -> list[ClipRequested]:
        resp = await aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        return [ClipRequested.model_validate_json(m["Body"]) for m in resp.get("Messages", [])]

    [request] = await eventually(sent, timeout_s=15, what="the clip request")
    assert request.video_id == "vhit"
    assert request.selector == ClipSelector(text="mission briefing")
    # AND the hit says it is being cut
    result = row.locator(".hit-clip")
    await result.filter(has_text="Cutting").wait_for()

    # WHEN the clipper records its answer
    key = clip_key("vhit", request.request_id, "clip-001_0.000-2.000.mp4")
    await aws.s3.put_object(Bucket=common.bucket, Key=key, Body=b"\0\0\0\x18ftypisom")
    cut = ClipRange(
        requested_start_s=0, requested_end_s=2, start_s=0, end_s=2, output_start_s=0,
        frames=50, method="smart",
    )  # fmt: skip
    answer = ClipsReady(
        message_id="m-hit", video_id="vhit", trace_id=request.request_id,
        request_id=request.request_id, status=ClipStatus.COMPLETE,
        clips=(ClipFile(bucket=common.bucket, key=key, size_bytes=16, ranges=(cut,)),),
        started_at=utc_now(), finished_at=utc_now(),
    )  # fmt: skip
    await aws.s3.put_object(
        Bucket=common.bucket,
        Key=clips_result_key("vhit", request.request_id),
        Body=answer.model_dump_json().encode(),
    )
    # THEN the hit shows the file's download link
    link = result.locator("a.clip-download")
    await link.wait_for()
    assert await link.inner_text() == "\u2913 clip-001_0.000-2.000.mp4"
    assert await result.get_attribute("data-status") == "complete"
