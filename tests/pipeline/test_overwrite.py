"""An upload key overwritten before its first version was analysed: never a mixed-up video.

The first version has its own ETag (and version id), so its own video id. Reading the key
alone would analyse the second file under the first video's id. Every read of an upload is
pinned to the announced version instead, on the running pipeline (emulator, real queues):

* unversioned bucket: the first video ends ``failed`` with "the object was overwritten before
  it was analysed"; the second video is analysed from its own content;
* versioned bucket: the first version stays readable by its id, so both videos are analysed,
  each from its own version.

The overwrite lands "before the analysis" because the test decides when each upload is
announced to ingest, and stops the frame extractor until both versions are ingested.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.settings import IngestSettings
from ingest.upload import probe_upload
from tests.support.clips import make_colour_clip, make_cut_clip
from tests.support.waiting import eventually
from videosense.embedded import EmbeddedStack
from videosense_shared.aws import AwsClients
from videosense_shared.document import VideoDocument
from videosense_shared.ids import video_id_for
from videosense_shared.messages import SourceRef, Stage, StageStatus, VideoStatus
from videosense_shared.objects import OVERWRITTEN, SourceOverwrittenError
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import FRAME_EXTRACTOR, INGEST

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Clip:
    """A video file and what its document must say if it was analysed from this file."""

    path: Path
    size: int
    scenes: int


@pytest.fixture
async def stack(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedStack]:
    for service in ("INGEST", "FRAME_EXTRACTOR", "AGGREGATOR"):
        monkeypatch.setenv(f"VIDEOSENSE_{service}_WAIT_TIME_S", "1")
        # A stopped service's long poll can still take a message on the emulator's side (it
        # counts as a receive): with a short visibility window, such a message comes back in
        # seconds for the restarted service, not after the frame extractor's usual 5 minutes.
        monkeypatch.setenv(f"VIDEOSENSE_{service}_VISIBILITY_TIMEOUT_S", "5")
    async with EmbeddedStack(endpoint=aws_env["AWS_ENDPOINT_URL"]) as running:
        yield running


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    """Two different videos with the same file name (so the same upload key)."""
    first = tmp_path_factory.mktemp("first") / "clip.mp4"
    second = tmp_path_factory.mktemp("second") / "clip.mp4"
    make_cut_clip(first, cut_frames=[20, 45, 70], total_frames=90)
    make_colour_clip(second, colours=[("red", 25), ("blue", 25)])
    return Clip(first, first.stat().st_size, 4), Clip(second, second.stat().st_size, 2)


class Uploads:
    """Uploads to one key, and the S3 notifications announcing them, sent when a test says.

    The emulator's own notifications carry no ``versionId`` (AWS's do, on a versioned bucket),
    so the bucket's notification is switched off and each upload is announced the way AWS
    announces it, at the moment the test chooses.
    """

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.key = f"{stack.common.uploads_prefix}clip.mp4"

    async def prepare(self, *, versioned: bool) -> None:
        s3, bucket = self.stack.aws.s3, self.stack.common.bucket
        await s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        if versioned:
            await s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )

    async def put(self, clip: Clip) -> tuple[str, str]:
        """Upload ``clip`` to the key; return its video id and its notification body."""
        bucket = self.stack.common.bucket
        body = await asyncio.to_thread(clip.path.read_bytes)
        resp = await self.stack.aws.s3.put_object(Bucket=bucket, Key=self.key, Body=body)
        etag = resp["ETag"].strip('"')
        obj: dict[str, object] = {"key": self.key, "size": len(body), "eTag": etag}
        if resp.get("VersionId"):
            obj["versionId"] = resp["VersionId"]
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "eventTime": "2026-11-22T00:00:00.000Z",
            "s3": {"bucket": {"name": bucket}, "object": obj},
        }
        video_id = video_id_for(bucket, self.key, resp.get("VersionId") or etag)
        return video_id, json.dumps({"Records": [record]})

    async def announce(self, notification: str) -> None:
        assert self.stack.provisioned is not None
        await self.stack.aws.sqs.send_message(
            QueueUrl=self.stack.provisioned.queue_urls[INGEST], MessageBody=notification
        )


async def _assert_analysed_from(stack: EmbeddedStack, video_id: str, clip: Clip) -> VideoDocument:
    """The video completes, and its document describes ``clip`` (size and scene count)."""
    event = await stack.wait_completed(video_id, timeout_s=120)
    assert event.status == VideoStatus.COMPLETE
    document = await stack.store.read(video_id)
    assert document.source.size_bytes == clip.size
    assert len(document.scenes) == clip.scenes
    return document


async def _ingested(stack: EmbeddedStack, video_id: str) -> bool:
    try:
        header = await stack.store.header(video_id)
    except LookupError:
        return False
    return header.ingest_published


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
async def test_a_key_overwritten_before_ingest(
    stack: EmbeddedStack, clips: tuple[Clip, Clip], versioned: bool
) -> None:
    # GIVEN a key uploaded twice with two different videos
    first_clip, second_clip = clips
    uploads = Uploads(stack)
    await uploads.prepare(versioned=versioned)
    first, first_notification = await uploads.put(first_clip)
    second, second_notification = await uploads.put(second_clip)
    assert first != second
    # WHEN ingest handles the first upload's notification after the overwrite, then the second's
    await uploads.announce(first_notification)
    await uploads.announce(second_notification)
    # THEN the second video is analysed from its own content
    await _assert_analysed_from(stack, second, second_clip)
    if versioned:
        # AND the first, whose version is still readable by its id, from its own content
        document = await _assert_analysed_from(stack, first, first_clip)
        assert document.source.version_id is not None
    else:
        # AND the first fails saying why, rather than describing the second file
        event = await stack.wait_completed(first, timeout_s=60)
        assert event.status == VideoStatus.FAILED
        document = await stack.store.read(first)
        assert document.error == OVERWRITTEN
        assert document.scenes == ()


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
async def test_a_key_overwritten_between_ingest_and_frame_extraction(
    stack: EmbeddedStack, clips: tuple[Clip, Clip], versioned: bool
) -> None:
    # GIVEN the frame extractor stopped, and the first video ingested (probed, announced)
    first_clip, second_clip = clips
    uploads = Uploads(stack)
    await uploads.prepare(versioned=versioned)
    await stack.kill_service(FRAME_EXTRACTOR)
    first, notification = await uploads.put(first_clip)
    await uploads.announce(notification)
    await eventually(lambda: _ingested(stack, first), timeout_s=60, what="first video ingested")
    # AND then its key overwritten with another video, ingested in turn
    second, notification = await uploads.put(second_clip)
    await uploads.announce(notification)
    await eventually(lambda: _ingested(stack, second), timeout_s=60, what="second video ingested")
    # WHEN the frame extractor comes back and reads both
    await stack.start_service(FRAME_EXTRACTOR)
    # THEN the second video is analysed from its own content
    await _assert_analysed_from(stack, second, second_clip)
    if versioned:
        # AND the first from its own version, whatever the key holds now
        await _assert_analysed_from(stack, first, first_clip)
    else:
        # AND the first's frame stage fails with the reason: no scenes of the other file
        event = await stack.wait_completed(first, timeout_s=60)
        assert event.status == VideoStatus.FAILED
        document = await stack.store.read(first)
        assert document.stages[Stage.FRAMES].status == StageStatus.FAILED
        assert document.stages[Stage.FRAMES].error == OVERWRITTEN
        assert document.scenes == ()
        # the document still describes the first upload, as ingest probed it
        assert document.source.size_bytes == first_clip.size


async def test_the_ingest_probe_refuses_a_changed_object(
    aws_env: dict[str, str], clips: tuple[Clip, Clip]
) -> None:
    # GIVEN an upload in an unversioned bucket, probed through a pinned presigned URL (the pin
    # is If-Match on the ETag, which the range reader sends with every request)
    first_clip, second_clip = clips
    common = CommonSettings()
    limits = IngestSettings().probe_limits
    async with AwsClients(common.region) as aws:
        await aws.s3.create_bucket(Bucket=common.bucket)
        body = await asyncio.to_thread(first_clip.path.read_bytes)
        put = await aws.s3.put_object(Bucket=common.bucket, Key="uploads/probe.mp4", Body=body)
        source = SourceRef(
            bucket=common.bucket,
            key="uploads/probe.mp4",
            etag=put["ETag"].strip('"'),
            size_bytes=len(body),
        )
        facts = await probe_upload(aws.s3, source, len(body), 60, limits)
        assert facts.frame_count == 90
        # WHEN the key is overwritten and that version is probed again
        other = await asyncio.to_thread(second_clip.path.read_bytes)
        await aws.s3.put_object(Bucket=common.bucket, Key="uploads/probe.mp4", Body=other)
        # THEN S3 refuses the range requests (412) and the probe says the object was overwritten
        with pytest.raises(SourceOverwrittenError, match=OVERWRITTEN):
            await probe_upload(aws.s3, source, len(body), 60, limits)
