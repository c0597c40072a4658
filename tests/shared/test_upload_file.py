"""Moving a video between disk and S3 without holding it: ``upload_file`` sends it in parts,
``download_to_file`` streams it back, and both keep their Python allocations far below the
file's size (the file is several times larger than the bound each test asserts)."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from videosense_shared.aws import AwsClients
from videosense_shared.messages import SourceRef
from videosense_shared.objects import download_to_file, upload_file
from videosense_shared.settings import CommonSettings

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part: the tightest bound the tests can assert


@pytest.fixture
async def s3(aws_env: dict[str, str]) -> AsyncIterator[tuple[AwsClients, str]]:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        await aws.s3.create_bucket(Bucket=common.bucket)
        yield aws, common.bucket


def _random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))
    return path


async def test_a_file_larger_than_a_part_goes_up_in_parts_and_reads_back_exactly(
    s3: tuple[AwsClients, str], tmp_path: Path
) -> None:
    # GIVEN a file of two parts and a bit
    aws, bucket = s3
    video = _random_file(tmp_path / "video.mp4", 2 * PART + 12345)
    # WHEN it is uploaded with its metadata
    done = await upload_file(
        aws.s3, video, bucket, "uploads/v.mp4", metadata={"a": "b"}, part_size=PART
    )
    # THEN S3 assembled three parts (a multipart ETag), kept the metadata, in an unversioned
    # bucket reported no version ...
    assert done.etag.strip('"').endswith("-3")
    assert done.version_id is None
    head = await aws.s3.head_object(Bucket=bucket, Key="uploads/v.mp4")
    assert head["ContentLength"] == video.stat().st_size
    assert head["Metadata"] == {"a": "b"}
    # ... and a ranged read across a part boundary and a whole download give the same bytes
    ranged = await aws.s3.get_object(
        Bucket=bucket, Key="uploads/v.mp4", Range=f"bytes={PART - 10}-{PART + 9}"
    )
    async with ranged["Body"] as body:
        assert await body.read() == video.read_bytes()[PART - 10 : PART + 10]
    source = SourceRef(
        bucket=bucket,
        key="uploads/v.mp4",
        etag=done.etag.strip('"'),
        size_bytes=head["ContentLength"],
    )
    await download_to_file(aws.s3, source, tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == video.read_bytes()


async def test_a_file_smaller_than_a_part_is_one_put(
    s3: tuple[AwsClients, str], tmp_path: Path
) -> None:
    aws, bucket = s3
    video = _random_file(tmp_path / "small.mp4", 1000)
    done = await upload_file(aws.s3, video, bucket, "uploads/s.mp4", part_size=PART)
    # A single PUT's ETag is the MD5 of the body: no part count
    assert "-" not in done.etag


async def test_uploading_and_downloading_hold_a_part_not_the_file(
    s3: tuple[AwsClients, str], tmp_path: Path
) -> None:
    # GIVEN a file eight parts long (40 MiB)
    aws, bucket = s3
    video = _random_file(tmp_path / "big.mp4", 8 * PART)
    tracemalloc.start()
    try:
        # WHEN it is uploaded and downloaded
        done = await upload_file(aws.s3, video, bucket, "uploads/big.mp4", part_size=PART)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        source = SourceRef(
            bucket=bucket, key="uploads/big.mp4", etag=done.etag.strip('"'), size_bytes=8 * PART
        )
        await download_to_file(aws.s3, source, tmp_path / "back.mp4")
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN neither held more than a few parts' worth at once (the SDK copies a part while
    # signing and sending it), far below the 40 MiB moved
    assert upload_peak < 4 * PART, f"upload peaked at {upload_peak / MIB:.1f} MiB"
    assert download_peak < 4 * PART, f"download peaked at {download_peak / MIB:.1f} MiB"
    assert (tmp_path / "back.mp4").stat().st_size == 8 * PART


async def test_a_part_size_below_the_s3_minimum_is_refused(
    s3: tuple[AwsClients, str], tmp_path: Path
) -> None:
    aws, bucket = s3
    with pytest.raises(ValueError, match="5 MiB"):
        await upload_file(aws.s3, tmp_path / "x", bucket, "k", part_size=MIB)
