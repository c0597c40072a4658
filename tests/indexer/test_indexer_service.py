"""The indexer service on the emulator: a ``VideoCompleted`` on the completion topic -> the
video's document read from the bucket -> its entries in the search index, through the real
topology (SNS -> its SQS queue -> the consumer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from indexer.service import service
from indexer.settings import IndexerSettings
from tests.support.search_documents import document, keyframe, segment
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Publisher
from videosense_shared.document import VideoDocument
from videosense_shared.layout import document_key
from videosense_shared.messages import DocumentRef, VideoCompleted, VideoStatus
from videosense_shared.provision import provision
from videosense_shared.runtime import serve
from videosense_shared.search import IndexedVideo, SearchQuery
from videosense_shared.search.settings import SearchSettings
from videosense_shared.search.sqlite_index import SqliteSearchIndex
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import VIDEO_COMPLETED

pytestmark = pytest.mark.integration


class Running:
    """The provisioned topology, the indexer consuming its queue, and its index."""

    def __init__(self, aws: AwsClients, common: CommonSettings, index: SqliteSearchIndex) -> None:
        self.aws = aws
        self.common = common
        self.index = index
        self.publisher = Publisher(aws.sns, aws.sts, common)

    async def complete(self, doc: VideoDocument, *, write: bool = True) -> None:
        """Write the document (unless told not to) and publish its ``VideoCompleted``."""
        key = document_key(doc.video_id)
        if write:
            await self.aws.s3.put_object(
                Bucket=self.common.bucket, Key=key, Body=doc.model_dump_json().encode()
            )
        await self.publisher.publish(
            VIDEO_COMPLETED,
            VideoCompleted(
                message_id=f"completed-{doc.video_id}-{doc.completed_at}",
                video_id=doc.video_id,
                trace_id="t",
                status=doc.status,
                source=doc.source,
                stages={},
                error=doc.error,
                document=DocumentRef(bucket=self.common.bucket, key=key),
            ),
        )

    async def indexed(
        self, video_id: str, completed_at: datetime | None, *, timeout_s: float = 30
    ) -> IndexedVideo:
        """Wait until the index holds the video (this completion of it, when given)."""
        async with asyncio.timeout(timeout_s):
            while True:
                video = await self.index.get_video(video_id)
                if video is not None and completed_at in (None, video.completed_at):
                    return video
                await asyncio.sleep(0.2)


@pytest.fixture
async def running(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    monkeypatch.setenv("VIDEOSENSE_INDEXER_WAIT_TIME_S", "1")
    monkeypatch.setenv("VIDEOSENSE_INDEXER_MAX_RETRY_DELAY_S", "0")
    common = CommonSettings()
    index = SqliteSearchIndex(tmp_path / "search.sqlite")
    settings = IndexerSettings(search=SearchSettings(embeddings=False))
    stop = asyncio.Event()
    async with AwsClients(common.region) as aws:
        await provision(aws, common)
        task = asyncio.create_task(serve(service(settings, index=index), aws, stop))
        try:
            yield Running(aws, common, index)
        finally:
            stop.set()
            await task
            await index.close()


BRIEFING = document(
    "vid-1",
    keyframe(0, text=("Mission briefing",), labels=("Person",)),
    segments=(segment(1.0, 3.0, "the crew is ready"),),
)


async def test_a_completed_video_becomes_findable(running: Running) -> None:
    # WHEN a video completes
    await running.complete(BRIEFING)
    video = await running.indexed("vid-1", BRIEFING.completed_at)

    # THEN its entries are in the index and a search finds its text and transcript
    assert (video.status, video.entries) == (VideoStatus.COMPLETE, 3)
    results = await running.index.search(SearchQuery(text="mission briefing"))
    assert [(v.video_id, v.hits[0].t_s) for v in results.videos] == [("vid-1", 0.0)]
    said = await running.index.search(SearchQuery(text="crew"))
    assert said.videos[0].hits[0].end_s == 3.0


async def test_completing_again_replaces_the_entries(running: Running) -> None:
    # GIVEN a video indexed once
    await running.complete(BRIEFING)
    await running.indexed("vid-1", BRIEFING.completed_at)

    # WHEN its completion is delivered again, then a new document of it completes
    await running.complete(BRIEFING)
    newer = BRIEFING.model_copy(
        update={
            "keyframes": (keyframe(0, text=("Landing",)),),
            "transcript": None,
            "completed_at": datetime.fromisoformat("2026-02-01T00:00:00+00:00"),
        }
    )
    await running.complete(newer)
    video = await running.indexed("vid-1", newer.completed_at)

    # THEN only the newest entries are there, once
    assert video.entries == 1
    assert (await running.index.search(SearchQuery(text="mission briefing"))).videos == ()
    landing = await running.index.search(SearchQuery(text="landing"))
    assert landing.total_hits == 1


async def test_a_failed_video_is_listed(running: Running) -> None:
    # WHEN a video fails
    failed = document("vid-2", status=VideoStatus.FAILED, error="not a video")
    await running.complete(failed)

    # THEN it is listed as failed, with its reason and no entries
    video = await running.indexed("vid-2", failed.completed_at)
    assert (video.status, video.error, video.entries) == (VideoStatus.FAILED, "not a video", 0)


async def test_a_missing_document_is_listed_from_the_event_on_the_last_delivery(
    running: Running,
) -> None:
    # GIVEN a completion whose document is not in the bucket (deleted by hand)
    gone = document("vid-3", status=VideoStatus.PARTIAL)

    # WHEN it is delivered until the last delivery the queue allows
    await running.complete(gone, write=False)

    # THEN the video is listed anyway, saying why it has no entries
    video = await running.indexed("vid-3", None, timeout_s=60)
    assert video.status is VideoStatus.PARTIAL
    assert video.entries == 0
    assert video.error is not None
    assert "no document at s3://" in video.error
