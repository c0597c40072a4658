"""The whole loop in a browser, on the real pipeline: upload a generated clip with on-screen
text from the library page, watch it complete, search a word the clip shows, click the hit, and
land in the player at the hit's time. Screenshots of the library and the video page are saved
under ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page

from recognizer.service import service as recognizer_service
from tests.support.pictures import two_cards_clip
from tests.support.polling import short_polls
from tests.web.browser import chromium_page, needs_chromium, screenshot_path
from videosense.embedded import EmbeddedStack
from videosense.web.hosting import web_app
from videosense.web.server import serving
from videosense.web.settings import WebSettings
from videosense_shared.messages import VideoStatus
from videosense_shared.search.backends import open_search_index
from videosense_shared.search.settings import SearchSettings

pytestmark = [pytest.mark.e2e, needs_chromium]

COMPLETION_TIMEOUT_S = 240


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[EmbeddedStack]:
    # What a page upload asks for (it sends no stage metadata): frames and on-screen text.
    monkeypatch.setenv("VIDEOSENSE_INGEST_STAGES", "frames,recognition")
    short_polls(monkeypatch, "INGEST", "FRAME_EXTRACTOR", "AGGREGATOR", "RECOGNIZER", "INDEXER")
    # One index file for the web app and any indexer the stack runs.
    monkeypatch.setenv("VIDEOSENSE_SEARCH_INDEX_PATH", str(tmp_path / "search.sqlite"))
    monkeypatch.setenv("VIDEOSENSE_SEARCH_EMBEDDINGS", "false")
    async with EmbeddedStack(
        endpoint=aws_env["AWS_ENDPOINT_URL"], extra_services=[recognizer_service()]
    ) as running:
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


async def test_upload_watch_search_and_play_from_the_hit(
    stack: EmbeddedStack, site: str, page: Page, tmp_path: Path
) -> None:
    clip = two_cards_clip(tmp_path)  # "Mission briefing" for 2 s, then "Weather report"

    # GIVEN the library page
    await page.goto(site)
    # WHEN the clip is uploaded from it
    await page.set_input_files("#upload-file", str(clip))
    await page.click("#upload-button")
    # THEN the page says it is uploaded and lists the video
    status = page.locator("#upload-status")
    await status.filter(has_text="Uploaded").wait_for()
    row = page.locator("li.video").first
    video_id = await row.get_attribute("data-video-id")
    assert video_id

    # WHEN the pipeline finishes it
    event = await stack.wait_completed(video_id, COMPLETION_TIMEOUT_S)
    assert event.status == VideoStatus.COMPLETE
    # (what the indexer does on VideoCompleted; indexing twice is the same as once)
    index = await open_search_index(SearchSettings())
    try:
        await index.index_video(await stack.store.read(video_id))
    finally:
        await index.close()
    # THEN the library row turns complete by itself, with its stages and thumbnail
    done = page.locator(f'li.video[data-video-id="{video_id}"][data-status="complete"]')
    await done.wait_for(timeout=30_000)
    assert "recognition complete" in await done.inner_text()
    await page.wait_for_function(
        f"""() => {{
            const img = document.querySelector('li[data-video-id="{video_id}"] img.thumb');
            return img && img.complete && img.naturalWidth > 0;
        }}"""
    )
    await page.screenshot(path=screenshot_path("library.png"), full_page=True)

    # WHEN a word of the second card is searched
    await page.goto(f"{site}/search")
    await page.fill("#search-q", "weather")
    await page.press("#search-q", "Enter")
    hit = page.locator(f'section[data-video-id="{video_id}"] a.hit').first
    await hit.wait_for()
    # THEN the hit is the on-screen text of the second scene, about 2 s in
    assert "Weather" in await hit.inner_text()
    t = float(await hit.get_attribute("data-t") or "nan")
    assert 1.9 <= t < 4.0

    # WHEN the hit is clicked
    await hit.click()
    await page.wait_for_url(f"**/videos/{video_id}?t=*")
    # THEN the player is positioned at the hit's time
    await page.wait_for_selector("#video-page[data-media-ready=true]", timeout=30_000)
    current = await page.eval_on_selector("#player", "p => p.currentTime")
    assert abs(current - t) < 0.5
    # AND the page shows the video's keyframes and stages
    assert await page.locator("#keyframes article.keyframe").count() >= 2
    assert "Weather report" in await page.inner_text("#keyframes")
    await page.screenshot(path=screenshot_path("video.png"), full_page=True)
