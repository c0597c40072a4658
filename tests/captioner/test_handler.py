"""The captioner's handler on the emulator (real S3, SNS, SQS) with a scripted backend: what it
publishes for captions, failures, retries, large results and chunks it must skip."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from PIL import Image

from captioner.backend import (
    CaptionBackend,
    CaptioningError,
    ImageLimits,
    TransientCaptioningError,
)
from captioner.handler import Captioner
from captioner.settings import CaptionerSettings
from tests.fixtures.captioner.tiny_blip import jpeg
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import Delivery, Publisher, RetryableError
from videosense_shared.claimcheck import INLINE_LIMIT_BYTES
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    CaptionsReady,
    FramesExtracted,
    ImageRef,
    Keyframe,
    Stage,
    StageFailed,
    parse_message,
    utc_now,
)
from videosense_shared.provision import subscribe_queue
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import CAPTIONS_READY

pytestmark = pytest.mark.integration


class ScriptedBackend(CaptionBackend):
    """A backend at the port: captions from a function of the image, or a scripted failure."""

    name = "scripted"

    def __init__(self, *, max_side: int = 4000, fail: Exception | None = None) -> None:
        self.fail = fail
        self.received: list[bytes] = []
        self.text = "a frame {size[0]}x{size[1]}"
        self._limits = ImageLimits(max_side=max_side)

    @property
    def model(self) -> str:
        return "scripted-v1"

    @property
    def limits(self) -> ImageLimits:
        return self._limits

    async def caption(self, images: Sequence[bytes]) -> list[str]:
        if self.fail is not None:
            raise self.fail
        self.received.extend(images)
        captions = []
        for data in images:
            with Image.open(io.BytesIO(data)) as image:
                captions.append(self.text.format(size=image.size))
        return captions


class World:
    def __init__(self, aws: AwsClients, common: CommonSettings, tap: str) -> None:
        self.aws = aws
        self.common = common
        self.tap = tap
        self.publisher = Publisher(aws.sns, aws.sts, common)

    def captioner(
        self, fake: CaptionBackend | Exception, **settings: Any
    ) -> tuple[Captioner, list[int]]:
        opened: list[int] = []

        async def opener() -> CaptionBackend:
            opened.append(1)
            if isinstance(fake, Exception):
                raise fake
            return fake

        cfg = CaptionerSettings(**settings)
        loader = BackendLoader(cfg.backend, opener)
        return Captioner(self.aws.s3, self.publisher, cfg, loader), opened

    async def put_image(self, key: str, size: tuple[int, int]) -> ImageRef:
        await self.aws.s3.put_object(
            Bucket=self.common.bucket, Key=key, Body=jpeg((90, 120, 200), size=size)
        )
        return ImageRef(bucket=self.common.bucket, key=key, width=size[0], height=size[1])

    async def published(self) -> list[CaptionsReady | StageFailed]:
        out: list[CaptionsReady | StageFailed] = []
        for raw in await receive_all(self.aws.sqs, self.tap, settle_s=1.0):
            message = parse_message(raw["Body"])
            assert isinstance(message, CaptionsReady | StageFailed)
            out.append(message)
        return out


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    # Only what the captioner touches (the bucket and its topic, tapped by a test queue):
    # provisioning the whole topology would triple the time of every test.
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        await aws.s3.create_bucket(Bucket=common.bucket)
        topic_arn = (await aws.sns.create_topic(Name=common.topic_name(CAPTIONS_READY)))["TopicArn"]
        url = (await aws.sqs.create_queue(QueueName=common.queue_name("tap-captions")))["QueueUrl"]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, topic_arn, arn, None)
        yield World(aws, common, url)


def _chunk(
    images: Sequence[ImageRef],
    *,
    stages: tuple[Stage, ...] = (Stage.FRAMES, Stage.CAPTIONS),
    index: int = 1,
    count: int = 3,
) -> FramesExtracted:
    video_id = video_id_for("bucket", "uploads/clip.mp4", "etag")
    now = utc_now()
    keyframes = tuple(
        Keyframe(id=f"kf{i * 25:09d}", frame=i * 25, t_s=i * 1.0, scene_index=i, image=image)
        for i, image in enumerate(images)
    )
    return FramesExtracted(
        message_id=message_id_for(video_id, "FramesExtracted", str(index)),
        video_id=video_id,
        trace_id=trace_id_for(video_id),
        stages=stages,
        chunk_index=index,
        chunk_count=count,
        scene_count=len(images),
        keyframe_count=len(images),
        scenes=(),
        keyframes=keyframes,
        backend="pyav+content",
        started_at=now,
        finished_at=now,
    )


def _delivery(
    message: FramesExtracted, receive_count: int = 1, max_receives: int | None = None
) -> Delivery:
    return Delivery(
        body=message.model_dump_json(),
        attributes={"type": "FramesExtracted"},
        sqs_message_id="sqs-1",
        receive_count=receive_count,
        max_receives=max_receives,
    )


async def test_every_keyframe_gets_a_caption_from_a_fitted_image(world: World) -> None:
    # GIVEN a chunk of three keyframes, one larger than the backend accepts
    images = [
        await world.put_image("frames/a.jpg", (320, 180)),
        await world.put_image("frames/b.jpg", (1280, 720)),
        await world.put_image("frames/c.jpg", (200, 400)),
    ]
    backend = ScriptedBackend(max_side=640)
    captioner, _ = world.captioner(backend)
    message = _chunk(images)
    # WHEN the captioner handles it (twice: a redelivery)
    await captioner.handle(_delivery(message))
    await captioner.handle(_delivery(message, receive_count=2))
    # THEN CaptionsReady for the same chunk carries a caption per keyframe, in order, with the
    # backend and model; the large image reached the backend downscaled; both are one message id
    first, second = await world.published()
    assert isinstance(first, CaptionsReady)
    assert (
        first.message_id == second.message_id == message_id_for(message.message_id, "CaptionsReady")
    )
    assert (first.chunk_index, first.chunk_count) == (1, 3)
    assert (first.backend, first.model) == ("scripted", "scripted-v1")
    assert [(c.keyframe_id, c.frame) for c in first.captions] == [
        (kf.id, kf.frame) for kf in message.keyframes
    ]
    assert [c.caption for c in first.captions] == [
        "a frame 320x180",
        "a frame 640x360",
        "a frame 200x400",
    ]
    assert first.captions_ref is None


async def test_a_video_without_the_captions_stage_is_skipped(world: World) -> None:
    # GIVEN a chunk of a video that asked for frames only
    images = [await world.put_image("frames/a.jpg", (320, 180))]
    captioner, opened = world.captioner(ScriptedBackend())
    # WHEN the captioner handles it
    await captioner.handle(_delivery(_chunk(images, stages=(Stage.FRAMES,))))
    # THEN nothing is published and no backend was even opened
    assert await world.published() == []
    assert opened == []


async def test_a_chunk_without_keyframes_still_reports(world: World) -> None:
    # GIVEN a chunk with no keyframes (the aggregator counts every chunk)
    captioner, _ = world.captioner(ScriptedBackend())
    # WHEN the captioner handles it
    await captioner.handle(_delivery(_chunk([])))
    # THEN an empty CaptionsReady for that chunk goes out
    (published,) = await world.published()
    assert isinstance(published, CaptionsReady)
    assert published.captions == ()


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        pytest.param(
            BackendUnavailableError("local model directory '/models/blip' does not exist"),
            "local model directory '/models/blip' does not exist",
            id="backend-cannot-load",
        ),
        pytest.param(
            CaptioningError("Bedrock model x: ValidationException: bad image"),
            "Bedrock model x: ValidationException: bad image",
            id="backend-refuses",
        ),
    ],
)
async def test_a_backend_failure_fails_the_stage_with_the_reason(
    world: World, failure: Exception, reason: str
) -> None:
    # GIVEN a backend that cannot load, or refuses to caption
    images = [await world.put_image("frames/a.jpg", (320, 180))]
    if isinstance(failure, BackendUnavailableError):
        captioner, _ = world.captioner(failure, backend="local")
    else:
        captioner, _ = world.captioner(ScriptedBackend(fail=failure), backend="bedrock")
    message = _chunk(images)
    # WHEN the captioner handles a chunk
    await captioner.handle(_delivery(message))
    # THEN StageFailed(captions) carries the reason and the configured backend; no caption
    (published,) = await world.published()
    assert isinstance(published, StageFailed)
    assert published.stage == Stage.CAPTIONS
    assert published.error == reason
    assert published.backend == ("local" if "local" in reason else "bedrock")
    assert published.message_id == message_id_for(message.message_id, "StageFailed", "captions")


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        pytest.param(None, "frames/gone.jpg no longer exists", id="no-such-key"),
        pytest.param("videosense-no-such-bucket", "NoSuchBucket", id="no-such-bucket"),
    ],
)
async def test_an_unreadable_keyframe_image_fails_the_stage(
    world: World, bucket: str | None, reason: str
) -> None:
    # GIVEN a keyframe whose JPEG cannot be read
    image = ImageRef(
        bucket=bucket or world.common.bucket, key="frames/gone.jpg", width=10, height=10
    )
    captioner, _ = world.captioner(ScriptedBackend())
    # WHEN the captioner handles the chunk
    await captioner.handle(_delivery(_chunk([image])))
    # THEN the stage fails, naming the object and the trouble
    (published,) = await world.published()
    assert isinstance(published, StageFailed)
    assert reason in published.error
    assert "frames/gone.jpg" in published.error


async def test_transient_trouble_is_retried_then_ends_the_stage(world: World) -> None:
    # GIVEN a backend that stays throttled
    images = [await world.put_image("frames/a.jpg", (320, 180))]
    backend = ScriptedBackend(fail=TransientCaptioningError("ThrottlingException: slow down"))
    captioner, _ = world.captioner(backend)
    message = _chunk(images)
    # WHEN the chunk is received twice from a queue that allows three receives
    for receive in (1, 2):
        # THEN each time it is handed back for a retry, with nothing published
        with pytest.raises(RetryableError, match="ThrottlingException"):
            await captioner.handle(_delivery(message, receive, max_receives=3))
    assert await world.published() == []
    # WHEN it is received the last allowed time
    await captioner.handle(_delivery(message, 3, max_receives=3))
    # THEN the stage fails with the last reason instead of waiting on a dead-letter queue
    (published,) = await world.published()
    assert isinstance(published, StageFailed)
    assert published.error == "gave up after 2 deliveries: ThrottlingException: slow down"


async def test_captions_too_large_for_sns_travel_through_s3(world: World) -> None:
    # GIVEN fifty keyframes whose captions together exceed the inline limit
    image = await world.put_image("frames/a.jpg", (64, 48))
    backend = ScriptedBackend()
    backend.text = "a frame {size[0]}x{size[1]} " + "with many details " * 250
    captioner, _ = world.captioner(backend)
    # WHEN the captioner handles the chunk
    await captioner.handle(_delivery(_chunk([image] * 50)))
    # THEN the message carries a reference, and S3 holds the fifty captions
    (published,) = await world.published()
    assert isinstance(published, CaptionsReady)
    assert published.captions == ()
    assert published.captions_ref is not None
    obj = await world.aws.s3.get_object(
        Bucket=published.captions_ref.bucket, Key=published.captions_ref.key
    )
    async with obj["Body"] as body:
        stored = json.loads(await body.read())
    assert len(stored) == 50
    assert len(json.dumps(stored)) > INLINE_LIMIT_BYTES
    assert stored[0]["caption"].startswith("a frame 64x48 with many details")
