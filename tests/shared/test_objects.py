"""Reading S3 objects the one way: error codes, the pin on an upload's version, presigned URLs
that carry the pin, and the bucket layout."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from types_aiobotocore_s3 import S3Client

from ingest.notifications import parse_s3_notification
from videosense_shared import layout
from videosense_shared.messages import SourceRef
from videosense_shared.objects import (
    GONE,
    OVERWRITTEN,
    SourceGoneError,
    SourceOverwrittenError,
    is_missing,
    is_precondition_failed,
    pin,
    presign_source,
    quoted_etag,
    unavailable,
)

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "s3_events"
UNVERSIONED = SourceRef(bucket="media", key="uploads/a.mp4", etag="abc123", size_bytes=10)
VERSIONED = UNVERSIONED.model_copy(update={"version_id": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd.b"})


def _error(code: str, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "..."}}, operation)


@pytest.mark.parametrize("code", ["NoSuchKey", "NoSuchVersion", "NotFound", "404"])
def test_every_spelling_of_not_found_is_missing(code: str) -> None:
    # GIVEN the ways S3 (GetObject with a body, HeadObject without) says "no such object"
    # WHEN the error is classified THEN it is "missing", not a failed precondition
    assert is_missing(_error(code))
    assert not is_precondition_failed(_error(code))


@pytest.mark.parametrize("code", ["PreconditionFailed", "412"])
def test_a_refused_if_match_is_a_failed_precondition(code: str) -> None:
    assert is_precondition_failed(_error(code))
    assert not is_missing(_error(code))


@pytest.mark.parametrize("error", [_error("AccessDenied"), _error("SlowDown"), ValueError("x")])
def test_other_failures_are_neither(error: Exception) -> None:
    assert not is_missing(error)
    assert not is_precondition_failed(error)


def test_an_upload_is_pinned_by_version_when_it_has_one_and_by_etag_otherwise() -> None:
    # GIVEN the same upload with and without a version id
    # WHEN its pin is taken THEN it names the version, or the quoted ETag
    assert pin(VERSIONED) == {"VersionId": "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd.b"}
    assert pin(UNVERSIONED) == {"IfMatch": '"abc123"'}
    assert quoted_etag('"abc123"') == '"abc123"'


@pytest.mark.parametrize(
    ("source", "code", "expected", "reason"),
    [
        pytest.param(UNVERSIONED, "PreconditionFailed", SourceOverwrittenError, OVERWRITTEN),
        pytest.param(UNVERSIONED, "412", SourceOverwrittenError, OVERWRITTEN, id="head-412"),
        pytest.param(UNVERSIONED, "NoSuchKey", SourceGoneError, GONE, id="key-deleted"),
        pytest.param(VERSIONED, "NoSuchVersion", SourceOverwrittenError, OVERWRITTEN),
        pytest.param(VERSIONED, "404", SourceOverwrittenError, OVERWRITTEN, id="version-404"),
    ],
)
def test_a_failed_pinned_read_says_why_the_video_cannot_be_analysed(
    source: SourceRef, code: str, expected: type[Exception], reason: str
) -> None:
    # GIVEN a pinned read refused by S3 WHEN the refusal is interpreted
    error = unavailable(_error(code), source)
    # THEN it is the end of that video (or stage), with the reason
    assert isinstance(error, expected)
    assert error.reason == reason
    # AND other failures are left to the caller (retried)
    assert unavailable(_error("SlowDown"), source) is None


@pytest.fixture
async def s3v4() -> AsyncIterator[S3Client]:
    # Presigning is local: no request is sent, fake credentials do.
    session = get_session()
    session.set_credentials("testing", "testing")
    config = AioConfig(signature_version="s3v4")
    async with session.create_client("s3", region_name="eu-west-1", config=config) as client:
        yield client


async def test_a_presigned_url_pinned_by_etag_requires_the_if_match_header(
    s3v4: S3Client,
) -> None:
    # GIVEN an unversioned upload WHEN a URL is presigned for it (SigV4, as on AWS)
    pinned = await presign_source(s3v4, UNVERSIONED, 60)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(pinned.url).query)
    # THEN If-Match is a signed header (S3 refuses a request without it) and the reader is
    # told the value to send
    assert "if-match" in query["X-Amz-SignedHeaders"][0].split(";")
    assert pinned.if_match == '"abc123"'


async def test_a_presigned_url_pinned_by_version_names_it(s3v4: S3Client) -> None:
    pinned = await presign_source(s3v4, VERSIONED, 60)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(pinned.url).query)
    assert query["versionId"] == ["3HL4kqtJlcpXroDTDmjVBH40Nrjfkd.b"]
    assert pinned.if_match is None


def test_an_upload_notification_carries_its_version_into_the_source() -> None:
    # GIVEN a notification from a versioned bucket
    body = (EVENTS / "s3_put_several_records.json").read_text(encoding="utf-8")
    first = parse_s3_notification(body)[0]
    # WHEN its source reference is taken THEN every later read can be pinned to that version
    assert first.source_ref().version_id == "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd.b"


def test_the_bucket_layout() -> None:
    assert layout.keyframe_key("v1", 42) == "frames/v1/000000042.jpg"
    assert layout.document_key("v1") == "documents/v1.json"
    assert layout.payload_key("v1", "m1") == "messages/v1/m1.json"
    assert layout.transcript_key("v1") == "transcripts/v1.json"
    assert layout.transcript_key("v1", "out/") == "out/v1.json"
    assert layout.is_document_key(layout.document_key("v1"))
    assert not layout.is_document_key("documents/v1.txt")
    assert not layout.is_document_key("frames/v1.json")
