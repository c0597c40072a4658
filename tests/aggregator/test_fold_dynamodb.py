"""The aggregator's fold on real DynamoDB (the emulator): duplicates and any order converge on
one document and one completion event."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aggregator.handler import Aggregator
from tests.support.waiting import receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Delivery, Publisher
from videosense_shared.claimcheck import INLINE_LIMIT_BYTES, fit_for_sns
from videosense_shared.completion import Completion
from videosense_shared.ids import message_id_for, trace_id_for, video_id_for
from videosense_shared.messages import (
    MAX_FACE_TRACK_NAME,
    MAX_FACE_TRACKS,
    Box,
    CaptionsReady,
    Face,
    FaceTrack,
    FramesExtracted,
    ImageRef,
    Keyframe,
    KeyframeCaption,
    KeyframeRecognition,
    MediaFacts,
    Model,
    ObjectRef,
    RecognitionReady,
    Redaction,
    RedactionReady,
    Scene,
    Segment,
    SourceRef,
    Stage,
    StageFailed,
    StageStatus,
    TextDetection,
    Transcript,
    TranscriptReady,
    VideoIngested,
    VideoStatus,
    Word,
    utc_now,
)
from videosense_shared.provision import Provisioned, provision, subscribe_queue
from videosense_shared.settings import CommonSettings
from videosense_shared.store import DynamoDocumentStore
from videosense_shared.topology import VIDEO_COMPLETED

pytestmark = pytest.mark.integration


class World:
    """Provisioned topology, a store, an aggregator, and a tap on the completion topic."""

    def __init__(self, aws: AwsClients, common: CommonSettings, provisioned: Provisioned) -> None:
        self.aws = aws
        self.common = common
        self.store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        publisher = Publisher(aws.sns, aws.sts, common)
        completion = Completion(
            self.store, aws.s3, publisher, common.bucket, lease=timedelta(seconds=2)
        )
        self.aggregator = Aggregator(self.store, completion, aws.s3)
        self.provisioned = provisioned
        self.tap = ""

    async def deliver(self, message: Model) -> None:
        await self.aggregator.handle(
            Delivery(
                body=message.model_dump_json(), attributes={}, sqs_message_id="x", receive_count=1
            )
        )


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        provisioned = await provision(aws, common)
        w = World(aws, common, provisioned)
        name = common.queue_name("tap-completed")
        w.tap = (await aws.sqs.create_queue(QueueName=name))["QueueUrl"]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=w.tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, provisioned.topic_arns[VIDEO_COMPLETED], arn, None)
        yield w


def _video(
    common: CommonSettings, key: str, chunks: int
) -> tuple[VideoIngested, list[FramesExtracted]]:
    video_id = video_id_for(common.bucket, key, "etag")
    trace = trace_id_for(video_id)
    source = SourceRef(bucket=common.bucket, key=key, etag="etag", size_bytes=10)
    media = MediaFacts(
        duration_s=chunks * 4.0,
        fps=25,
        width=320,
        height=240,
        frame_count=chunks * 100,
        video_codec="h264",
        has_audio=False,
    )
    ingested = VideoIngested(
        message_id=message_id_for(video_id, "VideoIngested"),
        video_id=video_id,
        trace_id=trace,
        source=source,
        media=media,
        stages=(Stage.FRAMES,),
    )
    now = utc_now()
    parts = []
    for i in range(chunks):
        scenes = tuple(
            Scene(
                index=2 * i + j,
                start_frame=(2 * i + j) * 50,
                end_frame=(2 * i + j + 1) * 50,
                start_s=(2 * i + j) * 2.0,
                end_s=(2 * i + j + 1) * 2.0,
            )
            for j in range(2)
        )
        keyframes = tuple(
            Keyframe(
                id=f"kf{s.start_frame + 25:09d}",
                frame=s.start_frame + 25,
                t_s=s.start_s + 1,
                scene_index=s.index,
                image=ImageRef(
                    bucket=common.bucket,
                    key=f"frames/{video_id}/{s.start_frame + 25:09d}.jpg",
                    width=320,
                    height=240,
                ),
            )
            for s in scenes
        )
        parts.append(
            FramesExtracted(
                message_id=message_id_for(ingested.message_id, "FramesExtracted", str(i)),
                video_id=video_id,
                trace_id=trace,
                stages=(Stage.FRAMES,),
                chunk_index=i,
                chunk_count=chunks,
                scene_count=2 * chunks,
                keyframe_count=2 * chunks,
                scenes=scenes,
                keyframes=keyframes,
                backend="test",
                started_at=now,
                finished_at=now,
            )
        )
    return ingested, parts


async def _create(world: World, ingested: VideoIngested) -> None:
    assert await world.store.create(
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        source=ingested.source,
        media=ingested.media,
        stages=ingested.stages,
    )


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"order-{s}") for s in range(4)])
async def test_any_order_with_duplicates_gives_one_document_and_one_event(
    world: World, seed: int
) -> None:
    # GIVEN a video's header and its messages, shuffled, with every message duplicated
    ingested, chunks = _video(world.common, f"uploads/fold {seed}.mp4", chunks=3)
    await _create(world, ingested)
    messages: list[Model] = [ingested, *chunks] * 2
    random.Random(seed).shuffle(messages)
    # WHEN the aggregator folds them all
    for message in messages:
        await world.deliver(message)
    # THEN the document is complete with every scene and keyframe exactly once
    document = await world.store.read(ingested.video_id)
    assert document.status == VideoStatus.COMPLETE
    assert [s.index for s in document.scenes] == list(range(6))
    assert len(document.keyframes) == 6
    assert document.stages[Stage.FRAMES].backend == "test"
    header = await world.store.header(ingested.video_id)
    assert header.chunks_done[Stage.FRAMES] == 3
    # AND exactly one VideoCompleted went out
    events = await receive_all(world.aws.sqs, world.tap)
    assert [json.loads(e["Body"])["status"] for e in events] == ["complete"]


async def test_completion_waits_for_the_last_chunk(world: World) -> None:
    ingested, chunks = _video(world.common, "uploads/slow.mp4", chunks=3)
    await _create(world, ingested)
    for message in (ingested, chunks[2], chunks[0], chunks[0]):
        await world.deliver(message)
    assert (await world.store.read(ingested.video_id)).status == VideoStatus.PROCESSING
    assert await receive_all(world.aws.sqs, world.tap, settle_s=1) == []
    await world.deliver(chunks[1])
    assert (await world.store.read(ingested.video_id)).status == VideoStatus.COMPLETE


async def test_stage_failure_fails_the_video_once(world: World) -> None:
    ingested, _ = _video(world.common, "uploads/broken.mp4", chunks=1)
    await _create(world, ingested)
    failed = StageFailed(
        message_id=message_id_for(ingested.message_id, "StageFailed", "frames"),
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        stage=Stage.FRAMES,
        error="cannot decode: invalid data",
        backend="test",
    )
    for message in (failed, ingested, failed):
        await world.deliver(message)
    document = await world.store.read(ingested.video_id)
    assert document.status == VideoStatus.FAILED
    assert document.stages[Stage.FRAMES].error == "cannot decode: invalid data"
    events: list[dict[str, Any]] = await receive_all(world.aws.sqs, world.tap)
    assert len(events) == 1
    assert json.loads(events[0]["Body"])["stages"] == {"frames": "failed"}


async def test_message_for_unknown_video_is_retried_not_dropped(world: World) -> None:
    from videosense_shared.bus import RetryableError

    _, chunks = _video(world.common, "uploads/never-ingested.mp4", chunks=1)
    with pytest.raises(RetryableError, match="no document"):
        await world.deliver(chunks[0])


def _stamp() -> dict[str, Any]:
    now = utc_now()
    return {"started_at": now, "finished_at": now}


async def test_every_stage_folds_into_the_document(world: World) -> None:
    # GIVEN a video that requested every stage, with one frames chunk
    ingested, chunks = _video(world.common, "uploads/all stages.mp4", chunks=1)
    ingested = ingested.model_copy(update={"stages": tuple(Stage)})
    await _create(world, ingested)
    frames = chunks[0]
    kf = frames.keyframes[0]
    vid, trace = ingested.video_id, ingested.trace_id
    captions = CaptionsReady(
        message_id="c0",
        video_id=vid,
        trace_id=trace,
        chunk_index=0,
        chunk_count=1,
        backend="local",
        model="tiny-blip",
        captions=(KeyframeCaption(keyframe_id=kf.id, frame=kf.frame, caption="a test pattern"),),
        **_stamp(),
    )
    box = Box(left=0.1, top=0.2, width=0.3, height=0.4)
    recognition = RecognitionReady(
        message_id="r0",
        video_id=vid,
        trace_id=trace,
        chunk_index=0,
        chunk_count=1,
        backend="local",
        features=("faces", "text"),
        results=(
            KeyframeRecognition(
                keyframe_id=kf.id,
                frame=kf.frame,
                faces=(Face(box=box, confidence=91.0),),
                text=(TextDetection(text="HELLO", confidence=88.5, box=box),),
            ),
        ),
        **_stamp(),
    )
    transcript = TranscriptReady(
        message_id="t0",
        video_id=vid,
        trace_id=trace,
        backend="pocketsphinx",
        transcript=Transcript(
            language="en",
            text="hello world",
            segments=(
                Segment(
                    start_s=0.5,
                    end_s=1.0,
                    text="hello",
                    words=(Word(word="hello", start_s=0.5, end_s=1.0, confidence=0.9),),
                ),
                Segment(start_s=1.2, end_s=1.8, text="world"),
            ),
        ),
        **_stamp(),
    )
    redaction = RedactionReady(
        message_id="r0",
        video_id=vid,
        trace_id=trace,
        redaction=Redaction(
            image=ObjectRef(bucket=world.common.bucket, key=f"redacted/{vid}.mp4"),
            policy="all",
            style="pixelate",
            faces_redacted=1,
            frames_with_faces=10,
            frame_count=24,
            backend="local",
            face_tracks=(FaceTrack(start_s=0.2, end_s=0.96, name="jane"),),
        ),
        **_stamp(),
    )
    # WHEN the results arrive before the keyframes they describe, and twice
    results = (captions, recognition, transcript, redaction)
    for message in (*results, ingested, frames, *results):
        await world.deliver(message)
    # THEN the document carries all of it, and is complete
    document = await world.store.read(vid)
    assert document.status == VideoStatus.COMPLETE
    (keyframe,) = [k for k in document.keyframes if k.frame == kf.frame]
    assert keyframe.caption == "a test pattern"
    assert keyframe.faces[0].box == box
    assert keyframe.text[0].text == "HELLO"
    assert keyframe.labels == ()
    assert document.stages[Stage.RECOGNITION].features == ("faces", "text")
    assert document.stages[Stage.CAPTIONS].model == "tiny-blip"
    assert document.transcript is not None
    assert document.transcript.text == "hello world"
    assert document.transcript.segments[0].words[0].word == "hello"
    assert document.redaction == redaction.redaction
    events = await receive_all(world.aws.sqs, world.tap)
    assert len(events) == 1


async def test_large_results_travel_by_claim_check(world: World) -> None:
    # GIVEN a recognition result far above the SNS limit
    ingested, chunks = _video(world.common, "uploads/wordy.mp4", chunks=1)
    ingested = ingested.model_copy(update={"stages": (Stage.FRAMES, Stage.RECOGNITION)})
    await _create(world, ingested)
    words = tuple(
        TextDetection(
            text=f"word{i}", confidence=90.0, box=Box(left=0, top=0, width=0.1, height=0.1)
        )
        for i in range(3000)
    )
    frames = chunks[0]
    message = RecognitionReady(
        message_id="big",
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        chunk_index=0,
        chunk_count=1,
        backend="local",
        features=("text",),
        results=tuple(
            KeyframeRecognition(keyframe_id=k.id, frame=k.frame, text=words)
            for k in frames.keyframes
        ),
        **_stamp(),
    )
    # WHEN the producer fits it for SNS
    fitted = await fit_for_sns(world.aws.s3, world.common.bucket, message, "results", "results_ref")
    # THEN it travels as a reference and the aggregator folds the full payload
    assert fitted.results == ()
    assert fitted.results_ref is not None
    assert len(fitted.model_dump_json()) < 1000
    for m in (ingested, frames, fitted):
        await world.deliver(m)
    document = await world.store.read(ingested.video_id)
    assert all(len(k.text) == 3000 for k in document.keyframes)
    assert document.status == VideoStatus.COMPLETE


async def test_frames_failure_skips_keyframe_stages(world: World) -> None:
    ingested, _ = _video(world.common, "uploads/undecodable.mp4", chunks=1)
    ingested = ingested.model_copy(
        update={"stages": (Stage.FRAMES, Stage.CAPTIONS, Stage.TRANSCRIPT)}
    )
    await _create(world, ingested)
    failed = StageFailed(
        message_id="f",
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        stage=Stage.FRAMES,
        error="cannot decode",
    )
    no_audio = StageFailed(
        message_id="s",
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        stage=Stage.TRANSCRIPT,
        error="the video has no audio track",
        skipped=True,
    )
    for m in (ingested, failed, no_audio):
        await world.deliver(m)
    document = await world.store.read(ingested.video_id)
    assert document.stages[Stage.CAPTIONS].status == StageStatus.SKIPPED
    assert document.stages[Stage.TRANSCRIPT].status == StageStatus.SKIPPED
    assert document.status == VideoStatus.FAILED


async def test_the_last_delivery_fails_the_stage_and_completes(world: World) -> None:
    # GIVEN captions whose claim-checked payload is gone from the bucket
    ingested, chunks = _video(world.common, "uploads/payload gone.mp4", chunks=1)
    ingested = ingested.model_copy(update={"stages": (Stage.FRAMES, Stage.CAPTIONS)})
    await _create(world, ingested)
    captions = CaptionsReady(
        message_id="c-gone",
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        chunk_index=0,
        chunk_count=1,
        backend="local",
        captions_ref=ObjectRef(bucket=world.common.bucket, key="messages/gone.json"),
        **_stamp(),
    )
    for message in (ingested, chunks[0]):
        await world.deliver(message)

    async def deliver(receive_count: int) -> None:
        await world.aggregator.handle(
            Delivery(
                body=captions.model_dump_json(),
                attributes={},
                sqs_message_id="x",
                receive_count=receive_count,
                max_receives=5,
            )
        )

    # WHEN every delivery fails until the last one SQS allows
    for receive_count in range(1, 5):
        with pytest.raises(ClientError):
            await deliver(receive_count)
    await deliver(5)
    # THEN the captions stage failed with why, and the video completed partial, once
    document = await world.store.read(ingested.video_id)
    error = document.stages[Stage.CAPTIONS].error or ""
    assert error.startswith("its result could not be stored: gave up after 4 deliveries:")
    assert "NoSuchKey" in error or "does not exist" in error
    assert document.status == VideoStatus.PARTIAL
    events = await receive_all(world.aws.sqs, world.tap)
    assert [json.loads(e["Body"])["status"] for e in events] == ["partial"]


async def test_a_message_without_document_dead_letters_on_its_last_delivery(world: World) -> None:
    from videosense_shared.bus import PoisonMessage

    _, chunks = _video(world.common, "uploads/never-ingested-last.mp4", chunks=1)
    with pytest.raises(PoisonMessage, match=f"no document for video {chunks[0].video_id}"):
        await world.aggregator.handle(
            Delivery(
                body=chunks[0].model_dump_json(),
                attributes={},
                sqs_message_id="x",
                receive_count=5,
                max_receives=5,
            )
        )


@pytest.mark.parametrize("ingested_first", [True, False], ids=["ingested-first", "result-first"])
async def test_a_stage_started_when_its_worker_did(world: World, ingested_first: bool) -> None:
    # GIVEN a video queued a minute ago whose frames worker started 40 s later
    ingested, chunks = _video(world.common, f"uploads/timed {ingested_first}.mp4", chunks=1)
    queued = utc_now() - timedelta(seconds=60)
    ingested = ingested.model_copy(update={"occurred_at": queued})
    started = queued + timedelta(seconds=40)
    frames = chunks[0].model_copy(update={"started_at": started})
    await _create(world, ingested)
    # WHEN VideoIngested is folded before or after the result
    for message in (ingested, frames) if ingested_first else (frames, ingested):
        await world.deliver(message)
    # THEN the stage started when its worker did, whatever the order
    info = (await world.store.read(ingested.video_id)).stages[Stage.FRAMES]
    assert info.started_at == started
    assert info.queued_at == (queued if ingested_first else None)


async def test_the_most_face_tracks_fit_one_message_and_one_item(world: World) -> None:
    # GIVEN a redaction recording the most face tracks, each with the longest name
    ingested, _ = _video(world.common, "uploads/crowd.mp4", chunks=1)
    ingested = ingested.model_copy(update={"stages": (Stage.REDACTION,)})
    await _create(world, ingested)
    tracks = tuple(
        FaceTrack(
            start_s=1234.567891 + i,
            end_s=1300.123456 + i,
            # four bytes a character in UTF-8, the worst case
            name=f"{i:04d}".ljust(MAX_FACE_TRACK_NAME, "\U0001f600"),
            redacted=False,
        )
        for i in range(MAX_FACE_TRACKS)
    )
    ready = RedactionReady(
        message_id="crowd",
        video_id=ingested.video_id,
        trace_id=ingested.trace_id,
        redaction=Redaction(
            image=ObjectRef(bucket=world.common.bucket, key=f"redacted/{ingested.video_id}.mp4"),
            policy="all",
            style="pixelate",
            faces_redacted=MAX_FACE_TRACKS,
            frames_with_faces=90_000,
            frame_count=90_000,
            backend="local",
            face_tracks=tracks,
            face_tracks_omitted=17,
        ),
        **_stamp(),
    )
    # THEN the result travels inline on SNS
    assert len(ready.model_dump_json().encode()) <= INLINE_LIMIT_BYTES
    # AND WHEN it is folded into DynamoDB (one REDACTION item) / THEN it is read back whole
    for message in (ingested, ready):
        await world.deliver(message)
    document = await world.store.read(ingested.video_id)
    assert document.redaction == ready.redaction
    assert document.status == VideoStatus.COMPLETE
