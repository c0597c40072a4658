"""The Amazon Transcribe backend through the handler: S3, SNS and SQS on the emulator, the
Transcribe API (a paid service) stubbed at the botocore level on a real aiobotocore client,
with responses shaped like the real API's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber

from tests.support.waiting import receive_all
from transcriber.amazon import AmazonTranscribeBackend
from transcriber.backends import make_backend
from transcriber.handler import Transcriber
from transcriber.settings import TranscriberSettings
from videosense_shared.aws import AwsClients
from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import Delivery, Publisher, RetryableError
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

if TYPE_CHECKING:
    from types_aiobotocore_transcribe import TranscribeServiceClient

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "transcribe" / "two_speakers.json"
NOT_FOUND = "The requested job couldn't be found. Check the job name and try your request again."


class World:
    """Emulated S3/SNS/SQS, a stubbed Transcribe client, the handler and a tap on its topic."""

    def __init__(
        self,
        aws: AwsClients,
        client: TranscribeServiceClient,
        stubber: AioStubber,
        settings: TranscriberSettings,
        tap: str,
        etag: str,
    ) -> None:
        self.aws = aws
        self.stubber = stubber
        self.settings = settings
        self.tap = tap

        async def transcribe_client() -> TranscribeServiceClient:
            return client

        self.backend = AmazonTranscribeBackend(transcribe_client, aws.s3, settings)

        async def opener() -> AmazonTranscribeBackend:
            return self.backend

        publisher = Publisher(aws.sns, aws.sts, settings.common)
        backends = BackendLoader(settings.backend, opener)
        self.transcriber = Transcriber(aws.s3, settings.common.bucket, publisher, backends)
        bucket = settings.common.bucket
        video_id = video_id_for(bucket, "uploads/talk.mp4", etag)
        self.video = VideoIngested(
            message_id=message_id_for(video_id, "VideoIngested"),
            video_id=video_id,
            trace_id=trace_id_for(video_id),
            source=SourceRef(bucket=bucket, key="uploads/talk.mp4", etag=etag, size_bytes=5),
            media=MediaFacts(
                duration_s=6.0,
                fps=25,
                width=320,
                height=240,
                frame_count=150,
                video_codec="h264",
                has_audio=True,
            ),
            stages=(Stage.FRAMES, Stage.TRANSCRIPT),
        )
        self.job_name = f"{settings.common.prefix}-{video_id}"
        self.output_key = f"transcripts/{video_id}.json"

    async def deliver(self, receive_count: int) -> None:
        await self.transcriber.handle(
            Delivery(
                body=self.video.model_dump_json(),
                attributes={},
                sqs_message_id="m",
                receive_count=receive_count,
                max_receives=5,
            )
        )

    async def published(self) -> list[Any]:
        return [
            parse_message(m["Body"])
            for m in await receive_all(self.aws.sqs, self.tap, settle_s=0.5)
        ]

    def job(self, status: str, **extra: Any) -> dict[str, Any]:
        """A TranscriptionJob as GetTranscriptionJob/StartTranscriptionJob return it."""
        created = datetime.now(UTC) - timedelta(seconds=30)
        job: dict[str, Any] = {
            "TranscriptionJobName": self.job_name,
            "TranscriptionJobStatus": status,
            "MediaFormat": "mp4",
            "Media": {"MediaFileUri": f"s3://{self.video.source.bucket}/uploads/talk.mp4"},
            "CreationTime": created,
            "StartTime": created + timedelta(seconds=1),
            "IdentifyLanguage": True,
            "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10},
        }
        if status == "COMPLETED":
            job["LanguageCode"] = "en-US"
            job["IdentifiedLanguageScore"] = 0.98
            job["CompletionTime"] = created + timedelta(seconds=25)
            job["Transcript"] = {
                "TranscriptFileUri": f"https://s3.us-east-1.amazonaws.com/"
                f"{self.settings.common.bucket}/{self.output_key}"
            }
        job.update(extra)
        return job

    def expect_get(self, job: dict[str, Any] | None) -> None:
        params = {"TranscriptionJobName": self.job_name}
        if job is None:
            self.stubber.add_client_error(
                "get_transcription_job",
                service_error_code="BadRequestException",
                service_message=NOT_FOUND,
                http_status_code=400,
                expected_params=params,
            )
        else:
            self.stubber.add_response(
                "get_transcription_job", {"TranscriptionJob": job}, expected_params=params
            )

    def start_params(self) -> dict[str, Any]:
        return {
            "TranscriptionJobName": self.job_name,
            "Media": {"MediaFileUri": f"s3://{self.video.source.bucket}/uploads/talk.mp4"},
            "MediaFormat": "mp4",
            "OutputBucketName": self.settings.common.bucket,
            "OutputKey": self.output_key,
            "IdentifyLanguage": True,
            "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10},
        }

    async def overwrite_the_upload(self) -> None:
        await self.aws.s3.put_object(
            Bucket=self.video.source.bucket, Key=self.video.source.key, Body=b"another video"
        )

    async def transcribe_writes_its_result(self) -> None:
        await self.aws.s3.put_object(
            Bucket=self.settings.common.bucket, Key=self.output_key, Body=FIXTURE.read_bytes()
        )


@pytest.fixture
async def world(aws_env: dict[str, str]) -> AsyncIterator[World]:
    settings = TranscriberSettings(
        backend="transcribe", transcribe_poll_s=1, transcribe_max_poll_s=2
    )
    common = settings.common
    async with AwsClients(common.region) as aws:
        # Only what this handler touches: the bucket and its topic (fast to set up).
        await aws.s3.create_bucket(Bucket=common.bucket)
        # The upload the job will read (Transcribe itself is stubbed: the bytes do not matter,
        # its ETag does, since the backend checks the key still holds it).
        put = await aws.s3.put_object(Bucket=common.bucket, Key="uploads/talk.mp4", Body=b"video")
        topic = await aws.sns.create_topic(Name=common.topic_name(TRANSCRIPT_READY))
        tap = (await aws.sqs.create_queue(QueueName=common.queue_name("tap-transcript")))[
            "QueueUrl"
        ]
        arn = (await aws.sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        await subscribe_queue(aws, topic["TopicArn"], arn, None)
        # A real client (real request serialisation and validation); only the HTTP exchange
        # with the paid service is replaced by the stubber.
        session = get_session()
        tx: TranscribeServiceClient
        async with session.create_client("transcribe", region_name=common.region) as tx:
            with AioStubber(tx) as stubber:
                yield World(aws, tx, stubber, settings, tap, put["ETag"].strip('"'))
                stubber.assert_no_pending_responses()


async def test_a_job_is_started_once_polled_with_backoff_and_mapped(world: World) -> None:
    # GIVEN a video Transcribe has never seen
    world.expect_get(None)
    world.stubber.add_response(
        "start_transcription_job",
        {"TranscriptionJob": world.job("IN_PROGRESS")},
        expected_params=world.start_params(),
    )
    # WHEN its VideoIngested is delivered
    # THEN the job is started and the message asked back after the first poll delay
    with pytest.raises(RetryableError) as retry:
        await world.deliver(receive_count=1)
    assert retry.value.retry_after_s == 1
    assert await world.published() == []

    # GIVEN the job still running
    world.expect_get(world.job("IN_PROGRESS"))
    # WHEN the message comes back (second receive)
    # THEN only GetTranscriptionJob is called (the stubber refuses any other call: no second
    # job) and the next poll is further away (backoff)
    with pytest.raises(RetryableError) as retry:
        await world.deliver(receive_count=2)
    assert retry.value.retry_after_s == 2
    world.stubber.assert_no_pending_responses()

    # GIVEN the job completed and wrote its result into the bucket
    await world.transcribe_writes_its_result()
    world.expect_get(world.job("COMPLETED"))
    # WHEN the message comes back again
    await world.deliver(receive_count=3)
    # THEN TranscriptReady carries the mapped transcript, language and speakers
    (ready,) = await world.published()
    assert isinstance(ready, TranscriptReady)
    assert ready.backend == "transcribe"
    assert ready.message_id == message_id_for(world.video.message_id, "TranscriptReady")
    assert ready.transcript is not None
    assert ready.transcript.language == "en-US"
    assert [s.speaker for s in ready.transcript.segments] == ["spk_0", "spk_1"]
    assert ready.transcript.text.startswith("Welcome to the show.")
    # and the stage's start is the job's (29 s ago), not this last poll's
    assert ready.started_at <= datetime.now(UTC) - timedelta(seconds=20)


async def test_a_racing_start_reuses_the_existing_job(world: World) -> None:
    # GIVEN a job that appears between our Get and our Start (another delivery won the race)
    world.expect_get(None)
    world.stubber.add_client_error(
        "start_transcription_job",
        service_error_code="ConflictException",
        service_message="The requested job name already exists. Use a different job name.",
        http_status_code=400,
        expected_params=world.start_params(),
    )
    world.expect_get(world.job("IN_PROGRESS"))
    # WHEN the message is handled
    # THEN the existing job is polled, not duplicated
    with pytest.raises(RetryableError):
        await world.deliver(receive_count=1)


async def test_a_failed_job_fails_the_stage_with_its_reason(world: World) -> None:
    # GIVEN a job Transcribe could not process
    reason = "The media format provided does not match the detected media format."
    world.expect_get(world.job("FAILED", FailureReason=reason))
    # WHEN the message comes back
    await world.deliver(receive_count=2)
    # THEN StageFailed carries Transcribe's FailureReason
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert (failed.stage, failed.backend, failed.skipped) == (Stage.TRANSCRIPT, "transcribe", False)
    assert reason in failed.error


async def test_the_last_receive_before_redrive_waits_in_place(world: World) -> None:
    # GIVEN a job still running on the 4th of 5 allowed receives
    await world.transcribe_writes_its_result()
    world.expect_get(world.job("IN_PROGRESS"))
    world.expect_get(world.job("COMPLETED"))
    # WHEN the message comes back that time
    await world.deliver(receive_count=4)
    # THEN the handler polled again itself instead of letting the message be dead-lettered
    (ready,) = await world.published()
    assert isinstance(ready, TranscriptReady)


async def test_a_job_running_too_long_fails_the_stage(world: World) -> None:
    # GIVEN a job created five hours ago and still running
    old = datetime.now(UTC) - timedelta(hours=5)
    world.expect_get(world.job("IN_PROGRESS", CreationTime=old))
    # WHEN the message comes back
    await world.deliver(receive_count=2)
    # THEN the stage fails with the reason instead of polling forever
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert "still IN_PROGRESS" in failed.error


async def test_denied_access_fails_the_stage_clearly(world: World) -> None:
    # GIVEN credentials that may not call Transcribe
    world.stubber.add_client_error(
        "get_transcription_job",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: transcribe:GetTranscriptionJob",
        http_status_code=400,
    )
    # WHEN a video is handled
    await world.deliver(receive_count=1)
    # THEN StageFailed says Transcribe is not available, and why
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.error.startswith("Amazon Transcribe is not available: AccessDeniedException")


async def test_an_upload_overwritten_before_the_start_starts_no_job(world: World) -> None:
    # GIVEN a video whose key was overwritten after ingest, before Transcribe saw it
    await world.overwrite_the_upload()
    world.expect_get(None)
    # WHEN it is delivered
    await world.deliver(receive_count=1)
    # THEN no job is started (the stubber has no Start queued) and the stage fails saying why:
    # Transcribe reads a key, not a version, so it would transcribe the other file
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.error == "the object was overwritten before it was analysed"


async def test_an_upload_overwritten_while_the_job_ran_fails_the_stage(world: World) -> None:
    # GIVEN a job that completed, and the key overwritten while it ran
    await world.transcribe_writes_its_result()
    await world.overwrite_the_upload()
    world.expect_get(world.job("COMPLETED"))
    # WHEN the message comes back
    await world.deliver(receive_count=2)
    # THEN the result is not trusted (the job may have read the other file): the stage fails
    (failed,) = await world.published()
    assert isinstance(failed, StageFailed)
    assert failed.error == "the object was overwritten before it was analysed"


async def test_a_video_without_audio_starts_no_job(world: World) -> None:
    # GIVEN a video whose probe found no audio track
    world.video = world.video.model_copy(
        update={"media": world.video.media.model_copy(update={"has_audio": False})}
    )
    # WHEN it is delivered
    await world.deliver(receive_count=1)
    # THEN no Transcribe call is made (the stubber has none queued) and the stage is skipped
    (skipped,) = await world.published()
    assert isinstance(skipped, StageFailed)
    assert skipped.skipped
    assert skipped.error == "the video has no audio track"


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        pytest.param(
            {"backend": "transcribe", "language": "en"},
            "needs a language code with its region",
            id="transcribe-language-without-region",
        ),
        pytest.param(
            {"backend": "pocketsphinx", "language": "fr"},
            "English model only",
            id="pocketsphinx-french",
        ),
    ],
)
async def test_a_backend_that_cannot_work_here_is_unavailable_not_a_crash(
    aws_env: dict[str, str], settings: dict[str, Any], reason: str
) -> None:
    # GIVEN a configuration the chosen backend cannot honour
    cfg = TranscriberSettings(**settings)
    async with AwsClients(cfg.common.region) as aws:
        # WHEN the service opens its backend for a video
        backends = make_backend(cfg, aws)
        with pytest.raises(BackendUnavailableError) as caught:
            await backends.get()
    # THEN every video will fail the stage with the reason (no fallback to another backend)
    assert backends.name == cfg.backend
    assert reason in caught.value.reason
