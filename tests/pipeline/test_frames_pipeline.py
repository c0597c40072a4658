"""The services together on the emulator: provisioning, duplicates, poison messages, crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clips import make_cut_clip
from tests.support.taps import tap
from tests.support.waiting import eventually, receive_all
from videosense.embedded import EmbeddedStack
from videosense_shared.bus import ERROR_ATTRIBUTE
from videosense_shared.messages import VideoStatus
from videosense_shared.provision import provision
from videosense_shared.topology import AGGREGATOR, INGEST, TOPOLOGY, VIDEO_INGESTED

pytestmark = pytest.mark.integration


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    # Short windows so redelivery-based tests finish in seconds.
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_VISIBILITY_TIMEOUT_S", "5")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_COMPLETION_LEASE_S", "2")
    monkeypatch.setenv("VIDEOSENSE_INGEST_WAIT_TIME_S", "1")
    monkeypatch.setenv("VIDEOSENSE_FRAME_EXTRACTOR_WAIT_TIME_S", "1")
    monkeypatch.setenv("VIDEOSENSE_AGGREGATOR_WAIT_TIME_S", "1")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "three cuts.mp4"
    return make_cut_clip(path, cut_frames=[20, 45, 70], total_frames=90)


async def _tap(stack: EmbeddedStack, topic: str) -> str:
    assert stack.provisioned is not None
    return await tap(stack.aws, stack.common, stack.provisioned.topic_arns[topic], f"tap-{topic}")


async def test_provisioning_is_idempotent(stack: EmbeddedStack) -> None:
    # GIVEN a provisioned topology
    first = stack.provisioned
    assert first is not None
    subs_before = await stack.aws.sns.list_subscriptions()
    # WHEN it is provisioned again
    again = await provision(stack.aws, stack.common)
    # THEN the same resources come back and no subscription was added
    assert again.queue_urls == first.queue_urls
    assert again.topic_arns == first.topic_arns
    subs_after = await stack.aws.sns.list_subscriptions()
    assert len(subs_after["Subscriptions"]) == len(subs_before["Subscriptions"])
    for queue in TOPOLOGY.queues:
        attrs = await stack.aws.sqs.get_queue_attributes(
            QueueUrl=again.queue_urls[queue.name], AttributeNames=["RedrivePolicy"]
        )
        redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == queue.max_receive_count


async def test_duplicate_notification_starts_one_job(stack: EmbeddedStack, clip: Path) -> None:
    # GIVEN taps on the ingested and completed topics, and one finished video
    ingested = await _tap(stack, VIDEO_INGESTED)
    video_id = await stack.upload(clip)
    event = await stack.wait_completed(video_id, timeout_s=120)
    assert event.status == VideoStatus.COMPLETE
    # WHEN S3 delivers the very same notification again
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-22T00:00:00.000Z",
                "s3": {
                    "bucket": {"name": event.source.bucket},
                    "object": {
                        "key": event.source.key.replace(" ", "+"),
                        "size": event.source.size_bytes,
                        "eTag": event.source.etag,
                    },
                },
            }
        ]
    }
    assert stack.provisioned is not None
    await stack.aws.sqs.send_message(
        QueueUrl=stack.provisioned.queue_urls[INGEST], MessageBody=json.dumps(notification)
    )
    # THEN the duplicate is consumed without a second VideoIngested or a second completion
    await eventually(
        lambda: _queue_empty(stack, stack.provisioned.queue_urls[INGEST]),  # type: ignore[union-attr]
        what="ingest queue drained",
    )
    published = await receive_all(stack.aws.sqs, ingested)
    assert len(published) == 1
    with pytest.raises(TimeoutError):
        await stack.wait_completed(video_id, timeout_s=3)


async def _queue_empty(stack: EmbeddedStack, url: str) -> bool:
    attrs = await stack.aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    values = attrs["Attributes"]
    return (
        values["ApproximateNumberOfMessages"] == "0"
        and values["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


@pytest.mark.parametrize(
    ("queue", "body"),
    [
        pytest.param(INGEST, "this is not json", id="ingest-not-json"),
        pytest.param(
            INGEST, '{"Records": [{"eventName": "ObjectCreated:Put"}]}', id="ingest-no-s3"
        ),
        pytest.param(
            AGGREGATOR, '{"type": "FramesExtracted", "video_id": 3}', id="aggregator-invalid"
        ),
    ],
)
async def test_malformed_message_goes_to_dlq_at_once(
    stack: EmbeddedStack, queue: str, body: str
) -> None:
    assert stack.provisioned is not None
    urls = stack.provisioned.queue_urls
    # WHEN a malformed message arrives
    await stack.aws.sqs.send_message(QueueUrl=urls[queue], MessageBody=body)

    # THEN it lands in that queue's DLQ, with the reason, after a single receive
    async def in_dlq() -> list[Any]:
        resp = await stack.aws.sqs.receive_message(
            QueueUrl=urls[f"{queue}-dlq"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        return resp.get("Messages", [])

    messages = await eventually(in_dlq, timeout_s=30, what="message in the DLQ")
    assert messages[0]["Body"] == body
    assert messages[0]["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"]
    assert messages[0]["Attributes"]["ApproximateReceiveCount"] in ("1", "2")
    # AND the pipeline keeps working
    assert await eventually(lambda: _queue_empty(stack, urls[queue]), what="queue drained")


async def test_aggregator_crash_mid_message_completes_once(
    stack: EmbeddedStack, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an aggregator that dies right after finalising the document, before publishing
    # (the worst moment: state written, event not sent, message not deleted)
    crashed = asyncio.Event()
    calls = 0

    async def crashing_publish(self: Any, topic: str, message: Any) -> None:
        nonlocal calls
        if type(message).__name__ == "VideoCompleted" and calls == 0:
            calls += 1
            crashed.set()
            await asyncio.Event().wait()  # hangs like a frozen worker until it is killed
        await real_publish(self, topic, message)

    from videosense_shared.bus import Publisher

    real_publish = Publisher.publish
    monkeypatch.setattr(Publisher, "publish", crashing_publish)
    completed = await _tap(stack, "video-completed")
    video_id = await stack.upload(clip)
    await asyncio.wait_for(crashed.wait(), timeout=120)
    # WHEN that worker is killed (its task cancelled without a graceful drain)
    await stack.kill_service("aggregator")
    await stack.start_service("aggregator")
    # THEN the redelivered message completes the video, exactly once
    event = await stack.wait_completed(video_id, timeout_s=120)
    assert event.status == VideoStatus.COMPLETE
    events = await receive_all(stack.aws.sqs, completed, settle_s=4)
    assert [json.loads(m["Body"])["video_id"] for m in events] == [video_id]
    document = await stack.store.read(video_id)
    assert document.status == VideoStatus.COMPLETE
    assert len(document.scenes) == 4


async def test_bad_inputs_fail_clearly_and_pipeline_keeps_running(
    stack: EmbeddedStack, clip: Path, tmp_path: Path
) -> None:
    # GIVEN bad files under awkward keys, then a good video, all in one running stack
    video = await asyncio.to_thread(clip.read_bytes)
    bad = {
        "zero bytes é.mp4": b"",
        "a text file.mp4": b"just some text, not a video\n" * 50,
        "half+of a vidéo.mp4": video[: len(video) // 2],
    }
    ids = {}
    for name, content in bad.items():
        path = tmp_path / name
        await asyncio.to_thread(path.write_bytes, content)
        ids[name] = await stack.upload(path)
    good = await stack.upload(clip)
    # THEN each bad one ends failed with a readable reason
    for name, video_id in ids.items():
        event = await stack.wait_completed(video_id, timeout_s=60)
        assert event.status == VideoStatus.FAILED, name
        document = await stack.store.read(video_id)
        assert document.error, name
        assert document.source.key == f"uploads/{name}"
    # AND the good one still completes, every scene with a keyframe whose JPEG is in S3
    event = await stack.wait_completed(good, timeout_s=120)
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(good)
    assert {kf.scene_index for kf in document.keyframes} == {s.index for s in document.scenes}
    for kf in document.keyframes:
        head = await stack.aws.s3.head_object(Bucket=kf.image.bucket, Key=kf.image.key)
        assert head["ContentType"] == "image/jpeg"
    # AND the assembled document was written to S3 too
    assert event.document is not None
    body = await stack.aws.s3.get_object(Bucket=event.document.bucket, Key=event.document.key)
    async with body["Body"] as stream:
        assert json.loads(await stream.read())["video_id"] == good
