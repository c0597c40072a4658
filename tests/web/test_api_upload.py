"""Uploads through the API on the real emulator: the body lands under ``uploads/`` (in parts
when large), and files that are not audio or video, empty, or too large are refused with a
clear 4xx and nothing stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.clips import make_cut_clip
from videosense.web import upload as upload_module
from videosense.web.settings import WebSettings
from videosense_shared.aws import AwsClients
from videosense_shared.ids import video_id_for
from videosense_shared.settings import CommonSettings

pytestmark = pytest.mark.integration

MP4_HEAD = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2"


@pytest.fixture
def common(aws_env: dict[str, str]) -> CommonSettings:
    return CommonSettings()


@pytest.fixture
def settings(aws_env: dict[str, str]) -> WebSettings:
    return WebSettings(max_upload_bytes=20 * 1024 * 1024)


async def _keys(aws: AwsClients, common: CommonSettings) -> list[str]:
    resp = await aws.s3.list_objects_v2(Bucket=common.bucket, Prefix=common.uploads_prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


async def test_a_clip_is_stored_under_uploads_with_the_id_its_video_gets(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings, tmp_path: Path
) -> None:
    # GIVEN a real clip
    clip = make_cut_clip(tmp_path / "clip.mp4", cut_frames=[10], total_frames=20, audio=False)
    # WHEN the page uploads it
    resp = await http.post(
        "/api/uploads",
        params={"filename": "My clip.mp4"},
        content=clip.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    # THEN it is stored byte for byte under the uploads prefix
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["key"] == "uploads/My clip.mp4"
    assert body["container"] == "mp4"
    got = await aws.s3.get_object(Bucket=common.bucket, Key=body["key"])
    assert await got["Body"].read() == clip.read_bytes()
    assert got["ContentType"] == "video/mp4"
    # AND the id announced is the one the pipeline gives this object version
    assert body["video_id"] == video_id_for(common.bucket, body["key"], got["ETag"])


async def test_a_large_file_streams_in_parts(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a body of two and a bit parts, sent in small chunks as a browser does
    payload = MP4_HEAD + os.urandom(2 * upload_module.PART_BYTES + 12345)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    # WHEN it is uploaded
    resp = await http.post(
        "/api/uploads",
        params={"filename": "big.mov"},
        content=chunks(),
        headers={"Content-Type": "video/quicktime"},
    )
    # THEN the object is whole, assembled from parts (a multipart ETag ends in -<parts>)
    assert resp.status_code == 201, resp.text
    head = await aws.s3.head_object(Bucket=common.bucket, Key="uploads/big.mov")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].strip('"').endswith("-3")
    assert resp.json()["size_bytes"] == len(payload)


async def test_a_taken_name_gets_a_suffix_and_the_first_upload_is_kept(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN an upload named clip.mp4
    first = await http.post(
        "/api/uploads", params={"filename": "clip.mp4"}, content=MP4_HEAD + b"one",
        headers={"Content-Type": "video/mp4"},
    )  # fmt: skip
    # WHEN another file of the same name is uploaded
    second = await http.post(
        "/api/uploads", params={"filename": "clip.mp4"}, content=MP4_HEAD + b"two",
        headers={"Content-Type": "video/mp4"},
    )  # fmt: skip
    # THEN both are stored, the second under a suffixed name
    assert first.json()["key"] == "uploads/clip.mp4"
    key = second.json()["key"]
    assert key.startswith("uploads/clip-")
    assert key.endswith(".mp4")
    got = await aws.s3.get_object(Bucket=common.bucket, Key="uploads/clip.mp4")
    assert (await got["Body"].read()).endswith(b"one")


async def test_path_tricks_in_the_name_stay_under_uploads(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # WHEN a name carries directories and odd characters
    resp = await http.post(
        "/api/uploads", params={"filename": "../../documents/x<script>.mp4"},
        content=MP4_HEAD, headers={"Content-Type": "video/mp4"},
    )  # fmt: skip
    # THEN only its last component, cleaned, is used, under the uploads prefix
    assert resp.status_code == 201
    assert resp.json()["key"] == "uploads/x_script_.mp4"
    assert await _keys(aws, common) == ["uploads/x_script_.mp4"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "reason"),
    [
        ("text/plain", MP4_HEAD, 415, "only video or audio"),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 64, 415, "only video or audio"),
        ("video/mp4", b"this is a text file, not a video\n" * 4, 415, "does not look like"),
        ("application/octet-stream", b"%PDF-1.7\n" + b"\0" * 64, 415, "does not look like"),
        ("video/mp4", b"", 400, "empty"),
    ],
)
async def test_files_that_are_not_media_are_refused_and_nothing_is_stored(
    http: httpx.AsyncClient,
    aws: AwsClients,
    common: CommonSettings,
    content_type: str,
    body: bytes,
    status: int,
    reason: str,
) -> None:
    # WHEN something that is not audio or video (or nothing) is uploaded
    resp = await http.post(
        "/api/uploads", params={"filename": "x.mp4"}, content=body,
        headers={"Content-Type": content_type},
    )  # fmt: skip
    # THEN a clear 4xx says why, and the bucket is untouched
    assert resp.status_code == status
    assert reason in resp.json()["detail"]
    assert await _keys(aws, common) == []


async def test_audio_is_accepted(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # WHEN a WAV file is uploaded with the type browsers give it
    wav = b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 64
    resp = await http.post(
        "/api/uploads", params={"filename": "talk.wav"}, content=wav,
        headers={"Content-Type": "audio/wav"},
    )  # fmt: skip
    # THEN it is stored (audio alone gets a transcript)
    assert resp.status_code == 201
    assert resp.json()["container"] == "wav"


async def test_a_file_over_the_limit_is_refused_and_its_parts_aborted(
    http: httpx.AsyncClient, aws: AwsClients, common: CommonSettings
) -> None:
    # GIVEN a limit of 20 MiB (settings fixture) / WHEN 25 MiB are sent
    payload = MP4_HEAD + bytes(25 * 1024 * 1024)
    resp = await http.post(
        "/api/uploads", params={"filename": "huge.mp4"}, content=payload,
        headers={"Content-Type": "video/mp4"},
    )  # fmt: skip
    # THEN 413, no object, and no multipart upload left behind
    assert resp.status_code == 413
    assert "larger than" in resp.json()["detail"]
    assert await _keys(aws, common) == []
    pending = await aws.s3.list_multipart_uploads(Bucket=common.bucket)
    assert pending.get("Uploads", []) == []
