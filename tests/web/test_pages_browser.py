"""The pages in a real browser over seeded videos: the library lists them with status and
stages, a video's page draws keyframes with their boxes and the transcript, and an unknown
video is a 404 page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from playwright.async_api import Page

from tests.web.browser import chromium_page, needs_chromium
from tests.web.library_seed import seed_video
from videosense.web.server import serving
from videosense_shared.aws import AwsClients
from videosense_shared.settings import CommonSettings

pytestmark = [pytest.mark.e2e, needs_chromium]


@pytest.fixture
async def site(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app, "127.0.0.1", 0) as url:
        yield url


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium_page() as opened:
        yield opened


async def test_library_and_video_page_show_a_seeded_video(
    site: str, page: Page, aws: AwsClients, aws_env: dict[str, str]
) -> None:
    # GIVEN a finished video with a named face and on-screen text, and one still processing
    common = CommonSettings()
    await seed_video(aws, common, "vseen", "seen.mp4")
    await seed_video(aws, common, "vbusy", "busy.mp4", finished=False)

    # WHEN the library is opened
    await page.goto(site)
    done = page.locator('li.video[data-video-id="vseen"]')
    busy = page.locator('li.video[data-video-id="vbusy"]')
    # THEN both videos are listed with their status and stage badges, the busy one first
    await done.wait_for()
    assert await done.get_attribute("data-status") == "complete"
    assert await busy.get_attribute("data-status") == "processing"
    assert "transcript running" in await busy.inner_text()
    ids = await page.locator("li.video").evaluate_all("els => els.map(e => e.dataset.videoId)")
    assert ids == ["vbusy", "vseen"]

    # WHEN the finished video is opened from the library
    await done.locator("a.video-name").click()
    await page.wait_for_url(f"{site}/videos/vseen")
    # THEN its keyframes, findings, transcript and stages are shown
    keyframes = page.locator("#keyframes article.keyframe")
    await keyframes.nth(1).wait_for()
    first = keyframes.nth(0)
    assert "Eileen Collins" in await first.inner_text()
    assert "Mission briefing" in await first.inner_text()
    assert await page.locator("#transcript li.segment").count() == 2
    assert await page.locator("#stages tr").count() == 3
    assert await page.locator("#timeline .scene").count() == 2
    # AND the boxes are hidden until the keyframe is hovered
    face = first.locator(".box-face")
    assert await face.evaluate("e => getComputedStyle(e).opacity") == "0"
    await first.locator("figure").hover()
    await page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.box-face')).opacity === '1'"
    )
    # AND the face box sits where the document puts it (35% from the left of the image)
    figure_box = await first.locator("figure").bounding_box()
    face_box = await face.bounding_box()
    assert figure_box is not None
    assert face_box is not None
    assert abs((face_box["x"] - figure_box["x"]) / figure_box["width"] - 0.35) < 0.02


async def test_an_unknown_video_page_is_a_404(site: str, page: Page, aws: AwsClients) -> None:
    # WHEN a page of a video that does not exist is opened
    response = await page.goto(f"{site}/videos/vmissing")
    # THEN it is a 404 page that says so
    assert response is not None
    assert response.status == 404
    assert "No such video" in await page.inner_text("h1")
