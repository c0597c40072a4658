"""The recognizer's handler on the emulator: keyframes read from S3, results published on the
recognition-ready topic (inline or by claim check), failures published as StageFailed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Set
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from recognizer.backend import ImageRecognition
from recognizer.backends import make_backend
from recognizer.features import Feature
from recognizer.handler import Recognizer
from recognizer.images import encode_jpeg
from recognizer.settings import RecognizerSettings
from tests.support.pictures import astronaut, pil_text
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader
from videosense_shared.bus import Delivery, PoisonMessage, Publisher
from videosense_shared.claimcheck import load_payload
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    FramesExtracted,
    ImageRef,
    Keyframe,
    KeyframeRecognition,
    RecognitionReady,
    Scene,
    Stage,
    StageFailed,
    TextDetection,
    parse_message,
    utc_now,
)
from videosense_shared.provision import provision, subscribe_queue
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import RECOGNITION_READY

pytestmark = pytest.mark.integration

PHRASE = "Launch window opens"


class World:
    """Provisioned topology, two keyframes in S3 (a title card, the astronaut), and a tap on
    the recognition-ready topic."""

    def __init__(self, aws: AwsClients, common: CommonSettings, tap: str) -> None:
        self.aws = aws
        self.common = common
        self.tap = tap
        self.publisher = Publisher(aws.sns, aws.sts, common)
        self.video_id = video_id_for(common.bucket, "uploads/x.mp4", "etag")

    def recognizer(self, backend: Any | None = None, **cfg: Any) -> Recognizer:
        settings = RecognizerSettings(**cfg)
        if backend is None:
            return Recognizer(
                self.aws.s3, self.publisher, make_backend(settings, self.aws), settings
            )

        async def opener() -> Any:
            await backend.prepare(settings.requested_features())
            return backend

        loader = BackendLoader(backend.name, opener)
        return Recognizer(self.aws.s3, self.publisher, loader, settings)

    async def put_keyframe(self, frame: int, jpeg: bytes) -> Keyframe:
        key = f"frames/{self.video_id}/{frame:09d}.jpg"
        await self.aws.s3.put_object(Bucket=self.common.bucket, Key=key, Body=jpeg)
        return Keyframe(
            id=f"kf{frame:09d}",
            frame=frame,
            t_s=frame / 25,
            scene_index=frame // 50,
            image=ImageRef(bucket=self.common.bucket, key=key, width=640, height=360),
        )

    def chunk(
        self,
        keyframes: list[Keyframe],
        stages: tuple[Stage, ...] = (Stage.FRAMES, Stage.RECOGNITION),
        index: int = 0,
        count: int = 1,
    ) -> FramesExtracted:
        now = utc_now()
        return FramesExtracted(
            message_id=message_id_for("ingested", "FramesExtracted", str(index)),
            video_id=self.video_id,
            trace_id=trace_id_for(self.video_id),
            stages=stages,
            chunk_index=index,
            chunk_count=count,
            scene_count=2,
            keyframe_count=len(keyframes),
            scenes=(Scene(index=0, start_frame=0, end_frame=50, start_s=0, end_s=2),),
            keyframes=tuple(keyframes),
            backend="test",
            started_at=now,
            finished_at=now,
        )

    async def published(self) -> list[Any]:
        messages = await receive_all(self.aws.sqs, self.tap, settle_s=1.0)
        return [parse_message(json.loads(m["Body"])) for m in messages]


def delivery(message: FramesExtracted) -> Delivery:
    return Delivery(
        body=message.model_dump_json(), attributes={}, sqs_message_id="m", receive_count=1
    )


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        provisioned = await provision(aws, common)
        name = common.queue_name("tap-recognition")
        tap = (await aws.sqs.create_queue(QueueName=name))["QueueUrl"]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, provisioned.topic_arns[RECOGNITION_READY], arn, None)
        yield World(aws, common, tap)


async def test_chunk_is_recognized_and_published(world: World) -> None:
    # GIVEN a chunk of two keyframes: a title card and the astronaut
    card = await world.put_keyframe(10, encode_jpeg(pil_text(PHRASE)))
    face = await world.put_keyframe(60, encode_jpeg(astronaut()))
    chunk = world.chunk([card, face], index=1, count=3)
    # WHEN the local recognizer handles it
    await world.recognizer().handle(delivery(chunk))
    # THEN one RecognitionReady carries the chunk's position, the features that ran and one
    # result per keyframe: the text on the card, the face on the astronaut
    (ready,) = await world.published()
    assert isinstance(ready, RecognitionReady)
    assert (ready.chunk_index, ready.chunk_count) == (1, 3)
    assert ready.backend == "local"
    assert ready.features == ("labels", "faces", "text", "people")
    assert ready.message_id == message_id_for(chunk.message_id, "RecognitionReady", "1")
    assert ready.results_ref is None
    card_result, face_result = ready.results
    assert (card_result.keyframe_id, face_result.keyframe_id) == (card.id, face.id)
    assert card_result.text[0].text == PHRASE
    assert card_result.faces == ()
    assert len(face_result.faces) == 1
    assert all(PHRASE not in t.text for t in face_result.text)
    # (the packaged classifier finds nothing it is sure of on a plain title card)
    assert card_result.labels == ()


async def test_redelivery_publishes_the_same_message_id(world: World) -> None:
    card = await world.put_keyframe(10, encode_jpeg(pil_text(PHRASE)))
    chunk = world.chunk([card])
    recognizer = world.recognizer(features="text")
    await recognizer.handle(delivery(chunk))
    await recognizer.handle(delivery(chunk))
    first, second = await world.published()
    assert first.message_id == second.message_id
    assert first.results == second.results


async def test_chunk_of_a_video_without_recognition_is_skipped(world: World) -> None:
    # GIVEN a chunk of a video that asked for frames and captions only, then one that did not
    card = await world.put_keyframe(10, encode_jpeg(pil_text(PHRASE)))
    skipped = world.chunk([card], stages=(Stage.FRAMES, Stage.CAPTIONS))
    wanted = world.chunk([card], index=0)
    recognizer = world.recognizer(features="text")
    # WHEN both are handled in turn
    await recognizer.handle(delivery(skipped))
    await recognizer.handle(delivery(wanted))
    # THEN only the second produced anything
    published = await world.published()
    assert [type(m) for m in published] == [RecognitionReady]


@pytest.mark.parametrize(
    ("features", "says"),
    [
        pytest.param(
            "faces,face_search", "face search needs photos in the local face gallery", id="search"
        ),
        pytest.param("celebrities", "celebrity recognition is unavailable offline", id="celebs"),
    ],
)
async def test_feature_unavailable_offline_fails_the_stage_with_the_reason(
    world: World, features: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty user data directory: no face gallery yet.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    card = await world.put_keyframe(10, encode_jpeg(pil_text(PHRASE)))
    await world.recognizer(features=features).handle(delivery(world.chunk([card])))
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.stage == Stage.RECOGNITION
    assert failed.backend == "local"
    assert says in failed.error
    assert not failed.skipped


async def test_missing_keyframe_image_fails_the_stage(world: World) -> None:
    card = await world.put_keyframe(10, encode_jpeg(pil_text(PHRASE)))
    gone = card.model_copy(
        update={"image": card.image.model_copy(update={"key": "frames/none/000000001.jpg"})}
    )
    await world.recognizer(features="text").handle(delivery(world.chunk([gone])))
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert "frames/none/000000001.jpg no longer exists" in failed.error


class Wordy:
    """A backend that reads 60 long words in every image: results too large for SNS."""

    name = "wordy"

    async def prepare(self, features: Set[Feature]) -> None:
        return None

    async def recognize(self, image: bytes, features: Set[Feature]) -> ImageRecognition:
        words = tuple(
            TextDetection(text=f"word-{i:03d}-" + "x" * 40, confidence=99.0) for i in range(60)
        )
        return ImageRecognition(text=words)


async def test_results_too_large_for_sns_travel_by_claim_check(world: World) -> None:
    # GIVEN 40 keyframes whose results together exceed what one SNS message may carry
    jpeg = encode_jpeg(pil_text(PHRASE))
    keyframes = [await world.put_keyframe(i, jpeg) for i in range(40)]
    # WHEN the chunk is recognized
    await world.recognizer(Wordy(), features="text").handle(delivery(world.chunk(keyframes)))
    # THEN the message carries a reference, and the object holds every keyframe's result
    (ready,) = await world.published()
    assert isinstance(ready, RecognitionReady)
    assert ready.results == ()
    assert ready.results_ref is not None
    adapter: TypeAdapter[tuple[KeyframeRecognition, ...]] = TypeAdapter(
        tuple[KeyframeRecognition, ...]
    )
    results = await load_payload(world.aws.s3, ready.results_ref, adapter)
    assert [r.frame for r in results] == list(range(40))
    assert all(len(r.text) == 60 for r in results)


async def test_malformed_message_is_poison(world: World) -> None:
    with pytest.raises(PoisonMessage):
        await world.recognizer().handle(
            Delivery(
                body='{"type": "FramesExtracted"}',
                attributes={},
                sqs_message_id="m",
                receive_count=1,
            )
        )


class Counting:
    """A backend that counts the images it holds at once (each stays a few milliseconds)."""

    name = "counting"

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.seen = 0

    async def prepare(self, features: Set[Feature]) -> None:
        return None

    async def recognize(self, image: bytes, features: Set[Feature]) -> ImageRecognition:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(0.02)
        finally:
            self.now -= 1
            self.seen += 1
        return ImageRecognition()


async def test_the_worker_analyses_at_most_its_keyframes_at_once_over_all_chunks(
    world: World,
) -> None:
    # GIVEN a worker allowed 2 keyframes at once, and three chunks of 6 keyframes each
    jpeg = encode_jpeg(pil_text(PHRASE))
    keyframes = [await world.put_keyframe(i, jpeg) for i in range(18)]
    chunks = [world.chunk(keyframes[i * 6 : (i + 1) * 6], index=i, count=3) for i in range(3)]
    backend = Counting()
    recognizer = world.recognizer(backend, features="text", keyframe_parallelism=2)
    # WHEN the three chunks are handled at once (as the consumer does with its concurrency)
    await asyncio.gather(*(recognizer.handle(delivery(chunk)) for chunk in chunks))
    # THEN every keyframe was analysed, never more than 2 at the same time
    assert backend.seen == 18
    assert backend.most == 2
    assert len(await world.published()) == 3
