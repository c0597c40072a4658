"""The video page's Clips panel in a browser, over the real pipeline and the real clipper: on a
finished video's page a time range is asked for, and a download link of the cut MP4 appears."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page

from tests.clipper.coded_video import coded_video
from tests.support.polling import short_polls
from tests.web.browser import chromium_page, needs_chromium, screenshot_path
from videosense.embedded import EmbeddedStack
from videosense.web.hosting import web_app
from videosense.web.server import serving
from videosense.web.settings import WebSettings
from videosense_shared.messages import Stage, VideoStatus

pytestmark = [pytest.mark.e2e, needs_chromium]


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[EmbeddedStack]:
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "CLIPPER")
    monkeypatch.setenv("VIDEOSENSE_SEARCH_INDEX_PATH", str(tmp_path / "search.sqlite"))
    monkeypatch.setenv("VIDEOSENSE_SEARCH_EMBEDDINGS", "false")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


@pytest.fixture
async def site(stack: EmbeddedStack) -> AsyncIterator[str]:
    async with (
        web_app(stack.aws, WebSettings(poll_interval_s=1)) as app,
        serving(app, "127.0.0.1", 0) as url,
    ):
        yield url


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with chromium_page() as opened:
        yield opened


async def test_a_time_range_clip_is_cut_from_the_video_page(
    stack: EmbeddedStack, site: str, page: Page, tmp_path: Path
) -> None:
    # GIVEN a finished video
    source = coded_video(tmp_path / "coded.mp4", seconds=4)
    video_id = await stack.upload(source, stages=(Stage.FRAMES,))
    assert (await stack.wait_completed(video_id, timeout_s=90)).status == VideoStatus.COMPLETE
    # WHEN its page asks for the range 1.0-2.0 s
    await page.goto(f"{site}/videos/{video_id}")
    await page.wait_for_selector("#video-page[data-status=complete]")
    await page.fill("#clip-from", "1")
    await page.fill("#clip-to", "2")
    await page.click("#clip-submit")
    # THEN the request shows up, and once cut, a download link of its MP4
    done = page.locator("#clip-requests li.clip-request[data-status=complete]")
    link = done.locator("a.clip-download")
    await link.wait_for(timeout=60_000)
    assert "0:01.0\u20130:02.0" in await done.inner_text()  # an en dash between the times
    assert (await link.inner_text()).endswith(".mp4")
    await page.screenshot(path=screenshot_path("video-clips.png"), full_page=True)
    # AND the link serves the MP4 as a download
    href = await link.get_attribute("href")
    assert href
    async with httpx.AsyncClient() as client:
        got = await client.get(href)
    assert got.status_code == 200
    assert got.content[4:8] == b"ftyp"
    assert got.headers["content-disposition"].startswith("attachment;")
