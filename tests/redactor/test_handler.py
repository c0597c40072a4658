"""The redactor's handler on the emulator: the copy written to ``redacted/{video_id}.mp4`` and
``RedactionReady`` announced (the same object and id on a redelivery); audio alone skipped,
bad input failed, each with its reason; videos that did not ask for redaction left alone."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from redactor.backends import make_backend
from redactor.handler import NO_VIDEO, Redactor
from redactor.settings import RedactorSettings
from tests.redactor.composite import two_people
from tests.support.speech import espeak_audio
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Publisher
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.layout import redacted_key
from videosense_shared.messages import (
    MediaFacts,
    RedactionReady,
    SourceRef,
    Stage,
    StageFailed,
    VideoIngested,
    parse_message,
)
from videosense_shared.objects import read_bytes
from videosense_shared.provision import subscribe_queue
from videosense_shared.topology import REDACTION_READY

pytestmark = pytest.mark.integration

VIDEO = MediaFacts(
    duration_s=2.0,
    fps=25,
    width=640,
    height=360,
    frame_count=50,
    video_codec="h264",
    has_audio=True,
)


class World:
    """The bucket, the redaction topic with a tap, and a local redactor."""

    def __init__(self, aws: AwsClients, settings: RedactorSettings, tap: str) -> None:
        self.aws = aws
        self.bucket = settings.common.bucket
        self.tap = tap
        publisher = Publisher(aws.sns, aws.sts, settings.common)
        self.redactor = Redactor(aws.s3, publisher, make_backend(settings, aws), settings)

    async def upload(self, path: Path | None, key: str, media: MediaFacts = VIDEO) -> VideoIngested:
        etag = "etag-of-an-object-never-uploaded"
        if path is not None:
            body = await asyncio.to_thread(path.read_bytes)
            resp = await self.aws.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            etag = resp["ETag"].strip('"')
        video_id = video_id_for(self.bucket, key, etag)
        return VideoIngested(
            message_id=message_id_for(video_id, "VideoIngested"),
            video_id=video_id,
            trace_id=trace_id_for(video_id),
            source=SourceRef(bucket=self.bucket, key=key, etag=etag, size_bytes=1),
            media=media,
            stages=(Stage.REDACTION,),
        )

    async def deliver(self, message: VideoIngested) -> None:
        await self.redactor.handle(
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
def gallery(tmp_path: Path) -> Path:
    """Where the redactor looks for its face gallery: nothing there unless a test puts it."""
    return tmp_path / "faces"


@pytest.fixture
async def world(
    aws_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gallery: Path
) -> AsyncIterator[World]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings = RedactorSettings(preset="ultrafast", face_gallery=gallery)
    common = settings.common
    async with AwsClients(common.region) as aws:
        await aws.s3.create_bucket(Bucket=common.bucket)
        topic = await aws.sns.create_topic(Name=common.topic_name(REDACTION_READY))
        tap = (await aws.sqs.create_queue(QueueName=common.queue_name("tap-redaction")))["QueueUrl"]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, topic["TopicArn"], arn, None)
        yield World(aws, settings, tap)
    assert list(scratch.iterdir()) == [], "temporary files were left behind"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = two_people(tmp_path_factory.mktemp("handler") / "two.mp4", seconds=2.0)
    return path


async def test_the_copy_is_written_and_announced_the_same_on_a_redelivery(
    world: World, clip: Path, tmp_path: Path
) -> None:
    # GIVEN the two-people clip in the bucket
    message = await world.upload(clip, "uploads/two.mp4")
    # WHEN its VideoIngested is handled twice (a redelivery)
    await world.deliver(message)
    first_copy = await read_bytes(world.aws.s3, world.bucket, redacted_key(message.video_id))
    await world.deliver(message)
    # THEN RedactionReady goes out twice with one id, naming the one key both runs wrote
    published = await world.published()
    assert len(published) == 2
    first, second = published
    assert isinstance(first, RedactionReady)
    assert first.message_id == second.message_id
    redaction = first.redaction
    assert redaction.image.key == f"redacted/{message.video_id}.mp4"
    assert (redaction.policy, redaction.style, redaction.backend) == ("all", "pixelate", "local")
    assert redaction.faces_redacted >= 2
    assert redaction.frames_with_faces == redaction.frame_count == 50
    # AND every face track is recorded for the document: its time on screen, no boxes
    assert redaction.face_tracks is not None
    assert len(redaction.face_tracks) == redaction.faces_redacted
    assert all(0 <= t.start_s < t.end_s <= 2.0 and t.redacted for t in redaction.face_tracks)
    assert redaction.face_names_error is None  # no gallery: nobody to name, no error
    # AND the object is a playable MP4 with every frame and the sound
    data = await read_bytes(world.aws.s3, world.bucket, redaction.image.key)
    assert len(data) == len(first_copy)
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(data)
    with av.open(str(copy)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert sum(1 for _ in container.decode(video=0)) == 50


@pytest.fixture
def unreadable_gallery(gallery: Path) -> Path:
    """The redactor's face gallery with one photo, which does not decode."""
    gallery.mkdir()
    (gallery / "eileen.jpg").write_bytes(b"not a photo")
    return gallery


async def test_a_gallery_that_cannot_name_is_reported_beside_the_unnamed_tracks(
    world: World, clip: Path, unreadable_gallery: Path
) -> None:
    # GIVEN a face gallery whose only photo does not decode
    message = await world.upload(clip, "uploads/two.mp4")
    # WHEN the video is redacted under "all"
    await world.deliver(message)
    # THEN the faces are hidden, the tracks unnamed, and the redaction says why
    [ready] = await world.published()
    assert isinstance(ready, RedactionReady)
    redaction = ready.redaction
    assert redaction.faces_redacted >= 2
    assert redaction.face_tracks is not None
    assert {t.name for t in redaction.face_tracks} == {None}
    assert redaction.face_names_error == (
        f"the face gallery {unreadable_gallery} holds no readable photo"
    )


async def test_audio_alone_is_skipped_with_the_reason(world: World, tmp_path: Path) -> None:
    # GIVEN a sound file (ingest's probe found no video stream)
    sound = espeak_audio(tmp_path / "voice.wav", "hello there")
    message = await world.upload(
        sound,
        "uploads/voice.wav",
        VIDEO.model_copy(update={"video_codec": "", "fps": 0, "width": 0, "height": 0,
                                 "frame_count": 0}),
    )  # fmt: skip
    # WHEN delivered / THEN the stage is skipped, saying why
    await world.deliver(message)
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert (failed.stage, failed.skipped, failed.error) == (Stage.REDACTION, True, NO_VIDEO)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("missing", "the uploaded object no longer exists", id="object-gone"),
        pytest.param("junk", "cannot be opened as media", id="not-media"),
    ],
)
async def test_bad_input_fails_the_stage_with_the_reason(
    world: World, tmp_path: Path, content: str, expected: str
) -> None:
    path: Path | None = None
    if content == "junk":
        path = tmp_path / "junk.mp4"
        path.write_bytes(b"not a video at all" * 50)
    message = await world.upload(path, f"uploads/{content}.mp4")
    await world.deliver(message)
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.stage == Stage.REDACTION
    assert not failed.skipped
    assert expected in failed.error
    assert failed.backend == "local"


async def test_a_video_that_did_not_ask_for_redaction_is_left_alone(
    world: World, clip: Path
) -> None:
    message = await world.upload(clip, "uploads/frames-only.mp4")
    await world.deliver(message.model_copy(update={"stages": (Stage.FRAMES,)}))
    assert await world.published() == []
