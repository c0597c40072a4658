"""Parsing what arrives on the ingest queue: S3 notifications, SNS envelopes, EventBridge.

The JSON fixtures copy the documented AWS shapes with our own values; the ``*_moto`` ones are
bodies moto 5.2 really delivered. The integration tests at the end wire a real moto server
(S3 -> SQS, S3 -> SNS -> SQS) and parse the bodies it delivers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # no boto3-stubs in the venv
import pytest
from moto.server import ThreadedMotoServer

from ingest.notifications import MalformedNotification, UploadedObject, parse_s3_notification
from videosense_shared.bus import unwrap
from videosense_shared.ids import video_id_for
from videosense_shared.messages import SourceRef

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "s3_events"


def parse_delivered(body: str) -> list[UploadedObject]:
    """Parse an SQS body the way ingest sees it: the consumer removes any SNS envelope first."""
    message, _ = unwrap(body, {})
    return parse_s3_notification(message)


def event_body(name: str) -> str:
    return (EVENTS / name).read_text(encoding="utf-8")


# -- S3 event notifications ---------------------------------------------------------------------


def test_every_created_record_is_returned_in_order_and_removals_are_skipped() -> None:
    # GIVEN a notification with a Put, an ObjectRemoved:Delete and a multipart upload
    body = event_body("s3_put_several_records.json")

    # WHEN it is parsed
    uploads = parse_s3_notification(body)

    # THEN both created objects come back, with every field, and the removal is skipped
    assert uploads == [
        UploadedObject(
            bucket="videosense-uploads-eu",
            key="uploads/interview-take-1.mp4",
            etag="9b2cf535f27731c974343645a3985328",
            size_bytes=48213377,
            version_id="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd.b",
            event_name="ObjectCreated:Put",
            event_time="2026-03-14T09:26:53.589Z",
        ),
        UploadedObject(
            bucket="videosense-uploads-eu",
            key="uploads/keynote-2026/full-session.mov",
            etag="c0ffee254729b9f8c9b2a3bd6f1d2e4a-256",
            size_bytes=2147483648,
            version_id="pL3mN5bV7cX9zA1sD3fG5hJ7kL9qW1eR",
            event_name="ObjectCreated:CompleteMultipartUpload",
            event_time="2026-03-14T09:27:10.411Z",
        ),
    ]


@pytest.mark.parametrize(
    ("fixture", "expected_key"),
    [
        pytest.param(
            "s3_put_unicode_key.json",
            "uploads/my holiday été.mp4",
            id="aws-form-encoded-spaces-and-utf8",
        ),
        pytest.param(
            "s3_put_moto_encoded_key.json",
            "uploads/clip.mp4",
            id="moto-encodes-the-slash-too",
        ),
        pytest.param(
            "sns_wrapped_put.json",
            "uploads/my holiday été.mp4",
            id="inside-an-sns-envelope",
        ),
        pytest.param(
            "eventbridge_object_created.json",
            "uploads/c++ talk (2).mp4",
            id="eventbridge-raw-key-keeps-its-plus",
        ),
        pytest.param(
            "eventbridge_object_created_moto.json",
            "uploads/c++ talk (2).mp4",
            id="eventbridge-as-moto-sends-it",
        ),
    ],
)
def test_the_key_comes_back_exactly_as_uploaded(fixture: str, expected_key: str) -> None:
    # GIVEN a notification whose key is encoded the way its sender encodes keys
    body = event_body(fixture)

    # WHEN it is parsed as delivered
    [upload] = parse_delivered(body)

    # THEN the key is the one GetObject needs
    assert upload.key == expected_key


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param("s3_test_event.json", id="s3-test-event"),
        pytest.param("sns_wrapped_test_event.json", id="s3-test-event-inside-sns"),
        pytest.param("s3_object_removed.json", id="object-removed-only"),
        pytest.param("eventbridge_object_deleted.json", id="eventbridge-object-deleted"),
    ],
)
def test_messages_that_announce_no_upload_yield_nothing(fixture: str) -> None:
    # GIVEN a well-formed message that announces no new object
    body = event_body(fixture)

    # WHEN it is parsed THEN there is nothing to ingest (and no error: the message is deleted)
    assert parse_delivered(body) == []


def test_an_sns_envelope_yields_what_its_message_would() -> None:
    # GIVEN the same S3 notification, bare and inside an SNS envelope
    wrapped = event_body("sns_wrapped_put.json")
    bare = json.loads(wrapped)["Message"]

    # WHEN both are parsed as delivered THEN the results are identical
    assert parse_delivered(wrapped) == parse_s3_notification(bare)


def test_an_eventbridge_event_maps_onto_the_s3_notification_vocabulary() -> None:
    # GIVEN an EventBridge "Object Created" event for a multipart upload
    body = event_body("eventbridge_object_created.json")

    # WHEN it is parsed
    [upload] = parse_s3_notification(body)

    # THEN fields are taken from their EventBridge names and the reason becomes an event name
    assert upload == UploadedObject(
        bucket="videosense-uploads-fra",
        key="uploads/c++ talk (2).mp4",
        etag="e2fc714c4727ee9395f324cd2e7f331f-13",
        size_bytes=104857600,
        version_id="Tq8sW2xE4rT6yU8iO0pA2sD4fG6hJ8kL",
        event_name="ObjectCreated:CompleteMultipartUpload",
        event_time="2026-05-20T14:31:07Z",
    )


def test_moto_eventbridge_quirks_are_absorbed() -> None:
    # GIVEN the EventBridge event moto delivers: "eTag" instead of "etag", the version id
    # "null" on an unversioned bucket, and the reason "ObjectCreated" instead of an API name
    body = event_body("eventbridge_object_created_moto.json")

    # WHEN it is parsed
    [upload] = parse_s3_notification(body)

    # THEN the ETag is found, "null" means no version, and the event name stays truthful
    assert upload.etag == "336311a016184326ddbdd61edd4eeb52"
    assert upload.version_id is None
    assert upload.event_name == "ObjectCreated:ObjectCreated"


def test_quotes_around_an_etag_and_an_s3_prefix_on_the_event_name_are_normalised() -> None:
    # GIVEN a record in the style of S3-compatible servers: quoted ETag, "s3:" event prefix
    record = json.loads(event_body("s3_put_moto_encoded_key.json"))
    record["Records"][0]["eventName"] = "s3:ObjectCreated:Put"
    record["Records"][0]["s3"]["object"]["eTag"] = '"336311a016184326ddbdd61edd4eeb52"'

    # WHEN it is parsed
    [upload] = parse_s3_notification(json.dumps(record))

    # THEN it reads like an AWS record
    assert upload.event_name == "ObjectCreated:Put"
    assert upload.etag == "336311a016184326ddbdd61edd4eeb52"


def test_an_upload_converts_to_the_source_reference_of_its_document() -> None:
    # GIVEN a parsed upload
    [upload] = parse_s3_notification(event_body("s3_put_unicode_key.json"))

    # WHEN its source reference is taken THEN it carries the decoded key and the size
    assert upload.source_ref() == SourceRef(
        bucket="videosense-uploads",
        key="uploads/my holiday été.mp4",
        etag="5d41402abc4b2a76b9719d911017c592",
        size_bytes=7340032,
    )


# -- malformed messages -------------------------------------------------------------------------


def _record(**object_fields: Any) -> str:
    """A one-record notification; ``field=...`` (Ellipsis) removes that object field."""
    obj = {"key": "uploads%2Fclip.mp4", "size": 10, "eTag": "abc"} | object_fields
    obj = {k: v for k, v in obj.items() if v is not ...}
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-01-01T00:00:00.000Z",
                    "s3": {"bucket": {"name": "videosense-uploads"}, "object": obj},
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("", "not JSON", id="empty-body"),
        pytest.param("uploads/clip.mp4", "not JSON", id="plain-text"),
        pytest.param('{"Records": [', "not JSON", id="cut-off-json"),
        pytest.param("[1, 2]", "expected a JSON object, got list", id="json-array"),
        pytest.param('{"hello": "world"}', "not an S3 notification", id="unknown-object"),
        pytest.param('{"Records": []}', "non-empty list", id="no-records"),
        pytest.param('{"Records": ["x"]}', "record 1: expected an object", id="record-not-object"),
        pytest.param('{"Records": [{"s3": {}}]}', "missing 'eventName'", id="no-event-name"),
        pytest.param(_record(key=...), "record 1: s3.object: missing 'key'", id="no-key"),
        pytest.param(_record(key=""), "'key' must be a non-empty string", id="empty-key"),
        pytest.param(_record(eTag=...), "missing 'eTag'", id="no-etag"),
        pytest.param(_record(size=...), "'size' must be a non-negative integer", id="no-size"),
        pytest.param(_record(size="10"), "'size' must be a non-negative", id="size-as-text"),
        pytest.param(_record(size=-1), "'size' must be a non-negative", id="negative-size"),
        pytest.param(_record(versionId=7), "versionId: must be a non-empty", id="numeric-version"),
        pytest.param(
            '{"Type": "Notification", "Message": "hello"}',
            "not an S3 notification or EventBridge event (fields: 'Message', 'Type')",
            id="sns-envelope-not-unwrapped",
        ),
        pytest.param(
            '{"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"}',
            "source is 'aws.ec2'",
            id="eventbridge-from-another-service",
        ),
        pytest.param(
            '{"detail-type": "Object Created", "source": "aws.s3", "time": "t", "detail": {}}',
            "detail: missing 'bucket'",
            id="eventbridge-without-bucket",
        ),
    ],
)
def test_a_malformed_message_is_rejected_with_a_readable_reason(body: str, reason: str) -> None:
    # GIVEN a message that is not a usable upload notification
    # WHEN it is parsed THEN MalformedNotification (a ValueError) says what is wrong
    with pytest.raises(MalformedNotification) as caught:
        parse_s3_notification(body)
    assert isinstance(caught.value, ValueError)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


# -- through a real moto server ---------------------------------------------------------------


@dataclass(frozen=True)
class _Moto:
    endpoint_url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="module")
def moto_server() -> Iterator[_Moto]:
    # Private to this module on purpose: the shared emulator fixture lives in tests/conftest.py.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield _Moto(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


def _drain(sqs: Any, queue_url: str, expected: int) -> list[str]:
    """Receive until ``expected`` bodies arrived, then also whatever else is queued.

    moto notifies synchronously, so the long poll only bounds the wait if it ever did not.
    """
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while len(bodies) < expected and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    # A surplus message must show up in the caller's count assertions, not stay hidden.
    surplus = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return bodies + [message["Body"] for message in surplus.get("Messages", [])]


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


KEY = "uploads/my holiday été + c++ (final).mp4"
"""Spaces, UTF-8, a literal '+' and parentheses: every way a key can be mis-decoded."""


@pytest.mark.integration
def test_moto_s3_to_sqs_notification_gives_back_the_exact_key(moto_server: _Moto) -> None:
    s3, sqs = moto_server.client("s3"), moto_server.client("sqs")
    queue_url, queue_arn = _queue(sqs, "ingest-direct")
    # GIVEN a bucket notifying the queue of every object created under uploads/
    s3.create_bucket(Bucket="videosense-direct")
    s3.put_bucket_notification_configuration(
        Bucket="videosense-direct",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )

    # WHEN an object is uploaded under the prefix, and another one outside it
    put = s3.put_object(Bucket="videosense-direct", Key=KEY, Body=b"not a video, yet")
    s3.put_object(Bucket="videosense-direct", Key="elsewhere/ignored.mp4", Body=b"x")

    # THEN the queue holds moto's s3:TestEvent (sent on configuration) and one notification
    bodies = _drain(sqs, queue_url, expected=2)
    parsed = [parse_s3_notification(body) for body in bodies]
    assert sorted(len(p) for p in parsed) == [0, 1]
    [upload] = [u for p in parsed for u in p]
    # AND the key, ETag and size are exactly the uploaded object's
    assert upload.key == KEY
    assert upload.bucket == "videosense-direct"
    assert upload.etag == put["ETag"].strip('"')
    assert upload.size_bytes == len(b"not a video, yet")
    assert upload.event_name == "ObjectCreated:Put"
    # (moto's quirk, measured: the raw key is quote_plus-encoded, slash included)
    raw = json.loads(next(b for b in bodies if "Records" in b))["Records"][0]["s3"]["object"]
    assert raw["key"].startswith("uploads%2F")


@pytest.mark.integration
def test_moto_multipart_upload_notifies_twice_for_one_video(moto_server: _Moto) -> None:
    s3, sqs = moto_server.client("s3"), moto_server.client("sqs")
    queue_url, queue_arn = _queue(sqs, "ingest-multipart")
    s3.create_bucket(Bucket="videosense-multipart")
    s3.put_bucket_notification_configuration(
        Bucket="videosense-multipart",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    # GIVEN an object uploaded with a (one-part) multipart upload
    key = "uploads/multi part.mp4"
    upload_id = s3.create_multipart_upload(Bucket="videosense-multipart", Key=key)["UploadId"]
    part = s3.upload_part(
        Bucket="videosense-multipart", Key=key, UploadId=upload_id, PartNumber=1, Body=b"y" * 64
    )
    s3.complete_multipart_upload(
        Bucket="videosense-multipart",
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )

    # WHEN the notifications are parsed
    bodies = _drain(sqs, queue_url, expected=3)
    uploads = [u for body in bodies for u in parse_s3_notification(body)]

    # THEN moto sent two (an extra ObjectCreated:Put; AWS sends only the second) ...
    assert sorted(u.event_name for u in uploads) == [
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectCreated:Put",
    ]
    # ... which name the same object version, so they are one video id and ingest dedupes
    assert len({video_id_for(u.bucket, u.key, u.etag) for u in uploads}) == 1


@pytest.mark.integration
def test_moto_s3_to_sns_to_sqs_envelope_gives_back_the_exact_key(moto_server: _Moto) -> None:
    s3, sns, sqs = (moto_server.client(name) for name in ("s3", "sns", "sqs"))
    queue_url, queue_arn = _queue(sqs, "ingest-via-sns")
    # GIVEN a bucket notifying an SNS topic, subscribed by the queue WITHOUT raw delivery
    topic_arn = sns.create_topic(Name="videosense-uploads")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    s3.create_bucket(Bucket="videosense-via-sns")
    s3.put_bucket_notification_configuration(
        Bucket="videosense-via-sns",
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    # WHEN an object is uploaded
    s3.put_object(Bucket="videosense-via-sns", Key=KEY, Body=b"z")

    # THEN both queued bodies are SNS envelopes (test event, notification) and parse through
    bodies = _drain(sqs, queue_url, expected=2)
    assert all(json.loads(body)["Type"] == "Notification" for body in bodies)
    uploads = [u for body in bodies for u in parse_delivered(body)]
    assert [u.key for u in uploads] == [KEY]
