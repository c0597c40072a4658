"""The on-CPU path through the handler on the emulator: download from S3, audio extraction,
pocketsphinx, the outcome published; the temporary files always removed."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clips import make_colour_clip
from tests.support.speech import make_speech_clip
from tests.support.waiting import receive_all
from transcriber.backends import make_backend
from transcriber.handler import NO_AUDIO, Transcriber
from transcriber.settings import TranscriberSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Publisher
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    MediaFacts,
    SourceRef,
    Stage,
    StageFailed,
    TranscriptReady,
    VideoIngested,
    parse_message,
)
from videosense_shared.provision import subscribe_queue
from videosense_shared.topology import TRANSCRIPT_READY

pytestmark = pytest.mark.integration


class World:
    """The bucket, the transcript topic with a tap, and a pocketsphinx transcriber."""

    def __init__(self, aws: AwsClients, settings: TranscriberSettings, tap: str) -> None:
        self.aws = aws
        self.bucket = settings.common.bucket
        self.tap = tap
        publisher = Publisher(aws.sns, aws.sts, settings.common)
        backends = make_backend(settings, aws)
        self.transcriber = Transcriber(aws.s3, self.bucket, publisher, backends)

    async def upload(self, path: Path | None, key: str) -> VideoIngested:
        etag = "etag-of-an-object-never-uploaded"
        if path is not None:
            resp = await self.aws.s3.put_object(
                Bucket=self.bucket, Key=key, Body=await asyncio.to_thread(path.read_bytes)
            )
            etag = resp["ETag"].strip('"')
        video_id = video_id_for(self.bucket, key, etag)
        return VideoIngested(
            message_id=message_id_for(video_id, "VideoIngested"),
            video_id=video_id,
            trace_id=trace_id_for(video_id),
            source=SourceRef(bucket=self.bucket, key=key, etag=etag, size_bytes=1),
            media=MediaFacts(
                duration_s=8.0,
                fps=25,
                width=160,
                height=120,
                frame_count=200,
                video_codec="h264",
                has_audio=True,
            ),
            stages=(Stage.FRAMES, Stage.TRANSCRIPT),
        )

    async def deliver(self, message: VideoIngested) -> None:
        await self.transcriber.handle(
            Delivery(
                body=message.model_dump_json(), attributes={}, sqs_message_id="m", receive_count=1
            )
        )

    async def published(self) -> list[Any]:
        return [
            parse_message(m["Body"])
            for m in await receive_all(self.aws.sqs, self.tap, settle_s=0.5)
        ]


@pytest.fixture
async def world(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    # Temporary files go to a directory the tests can inspect.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings = TranscriberSettings(backend="pocketsphinx")
    common = settings.common
    async with AwsClients(common.region) as aws:
        await aws.s3.create_bucket(Bucket=common.bucket)
        topic = await aws.sns.create_topic(Name=common.topic_name(TRANSCRIPT_READY))
        tap = (await aws.sqs.create_queue(QueueName=common.queue_name("tap-transcript")))[
            "QueueUrl"
        ]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, topic["TopicArn"], arn, None)
        yield World(aws, settings, tap)
    assert list(scratch.iterdir()) == [], "temporary files were left behind"


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech_clip(
        tmp_path_factory.mktemp("local") / "speech.mp4", ("the weather is nice today",)
    )


async def test_a_speech_video_is_transcribed_and_announced(world: World, speech_clip: Path) -> None:
    # GIVEN a speech video in the bucket
    message = await world.upload(speech_clip, "uploads/speech.mp4")
    # WHEN its VideoIngested is handled (twice: a redelivery)
    await world.deliver(message)
    await world.deliver(message)
    # THEN TranscriptReady goes out with the same deterministic id both times
    published = await world.published()
    assert len(published) == 2
    first, second = published
    assert isinstance(first, TranscriptReady)
    assert first.message_id == second.message_id
    assert (first.backend, first.model) == ("pocketsphinx", "en-us")
    assert first.transcript is not None
    assert first.transcript.text == "the weather is nice today"
    assert first.started_at <= first.finished_at


async def test_a_video_not_asking_for_a_transcript_is_left_alone(
    world: World, speech_clip: Path
) -> None:
    # GIVEN a video that requested frames only
    message = await world.upload(speech_clip, "uploads/frames-only.mp4")
    message = message.model_copy(update={"stages": (Stage.FRAMES,)})
    # WHEN it is delivered
    await world.deliver(message)
    # THEN nothing is published
    assert await world.published() == []


@pytest.mark.parametrize(
    ("content", "expected_error", "skipped"),
    [
        pytest.param("missing", "the uploaded object no longer exists", False, id="object-gone"),
        pytest.param(
            "overwritten",
            "the object was overwritten before it was analysed",
            False,
            id="overwritten-since-announced",
        ),
        pytest.param("junk", "cannot be opened as media", False, id="not-media"),
        pytest.param("mute", NO_AUDIO, True, id="no-audio-stream-despite-the-probe"),
    ],
)
async def test_a_video_that_cannot_be_transcribed_ends_the_stage_with_a_reason(
    world: World, tmp_path: Path, content: str, expected_error: str, skipped: bool
) -> None:
    # GIVEN an object that is gone, overwritten, not media, or has no audio stream after all
    path: Path | None = None
    if content in ("junk", "overwritten"):
        path = tmp_path / "junk.mp4"
        path.write_bytes(b"not a video at all" * 50)
    elif content == "mute":
        path = make_colour_clip(tmp_path / "mute.mp4", colours=[("red", 10)])
    message = await world.upload(path, f"uploads/{content}.mp4")
    if content == "overwritten":
        await world.aws.s3.put_object(Bucket=world.bucket, Key=message.source.key, Body=b"other")
    # WHEN it is delivered
    await world.deliver(message)
    # THEN StageFailed carries the reason (skipped when there is simply no audio)
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.stage == Stage.TRANSCRIPT
    assert expected_error in failed.error
    assert failed.skipped is skipped
    assert failed.backend == "pocketsphinx"
