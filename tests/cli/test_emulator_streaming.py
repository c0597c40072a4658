"""The embedded emulator's S3 holds a few megabytes of an object, not all of it: a GetObject
body is a view read chunk by chunk, a multipart upload is composed part by part, and a large
request body is freed with its request (``videosense.moto_s3``).

The pieces are tested on moto's own objects in this process without patching moto here (other
tests in the session use moto as it is); the integration tests of ``upload_file`` run the
patched emulator end to end (``tests/shared/test_upload_file.py``).
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import os
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.s3.models import FakeKey, FakeMultipart
from moto.s3.utils import compute_checksum
from requests.structures import CaseInsensitiveDict

from videosense.moto_s3 import READ_CHUNK, KeyBody, _collect_after_large_bodies, _complete

MIB = 1024 * 1024


def _key(value: bytes) -> FakeKey:
    return FakeKey("k", value, account_id="123456789012", region_name="us-east-1")


def test_a_key_body_slices_and_iterates_like_the_bytes() -> None:
    # GIVEN a key of 3.5 read chunks
    value = os.urandom(3 * READ_CHUNK + READ_CHUNK // 2)
    body = KeyBody(_key(value))
    # THEN it has the length of the bytes, and any slice moto's range handling takes reads the
    # same bytes, in chunks of at most READ_CHUNK
    assert len(body) == len(value)
    assert body
    for start, stop in [(0, 10), (READ_CHUNK - 5, READ_CHUNK + 5), (100, len(value)), (7, 7)]:
        part = body[start:stop]
        assert len(part) == stop - start
        assert part.read_all() == value[start:stop]
        assert all(len(piece) <= READ_CHUNK for piece in part)
    assert body[len(value) - 1 : len(value) + 100].read_all() == value[-1:]
    assert not body[5:5]
    with pytest.raises(TypeError):
        body[::2]


def test_streaming_a_key_holds_a_chunk_not_the_object() -> None:
    # GIVEN a 48 MiB key (on disk past moto's 5 MB buffer)
    key = _key(os.urandom(48 * MIB))
    digest = hashlib.md5(usedforsecurity=False)
    tracemalloc.start()
    try:
        # WHEN its whole body and a ranged slice are sent
        for piece in KeyBody(key):
            digest.update(piece)
        for piece in KeyBody(key)[10 * MIB : 30 * MIB]:
            digest.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN no more than a couple of chunks were ever allocated at once
    assert peak < 4 * READ_CHUNK, f"peaked at {peak / MIB:.1f} MiB"


def _multipart(parts: list[bytes], metadata: dict[str, str] | None = None) -> FakeMultipart:
    upload = FakeMultipart(
        "k", CaseInsensitiveDict(metadata or {}), account_id="123456789012", region_name="us-east-1"
    )
    for number, value in enumerate(parts, start=1):
        upload.set_part(number, value)
    return upload


def _order(upload: FakeMultipart) -> Iterator[tuple[int, str]]:
    return ((number, upload.parts[number].etag) for number in upload.partlist)


def test_completing_a_multipart_upload_gives_the_parts_in_order_with_s3s_etag() -> None:
    # GIVEN three parts
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]
    upload = _multipart(parts)
    # WHEN the upload is completed
    value, etag, checksum = _complete(upload, _order(upload))
    # THEN the composed value is the parts in order, the ETag is S3's (MD5 of the parts' MD5s,
    # "-3"), and the default full-object checksum is the one moto computes on the whole object
    value.buffer.seek(0)
    assert value.buffer.read() == b"".join(parts)
    assert len(value) == sum(map(len, parts))
    md5s = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    assert etag == hashlib.md5(md5s, usedforsecurity=False).hexdigest() + "-3"
    whole = compute_checksum(b"".join(parts), "CRC64NVME").decode()
    assert checksum == ("FULL_OBJECT", whole, 1)


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_a_composite_checksum_is_the_checksum_of_the_parts_checksums(algorithm: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(10)]
    upload = _multipart(parts, {"x-amz-checksum-algorithm": algorithm})
    _, _, checksum = _complete(upload, _order(upload))
    joined = b"".join(compute_checksum(p, algorithm, encode_base64=False) for p in parts)
    assert checksum == ("COMPOSITE", compute_checksum(joined, algorithm).decode(), 2)


def test_a_full_object_crc32_is_computed_across_parts() -> None:
    parts = [os.urandom(5 * MIB), os.urandom(999)]
    upload = _multipart(
        parts, {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "FULL_OBJECT"}
    )
    _, _, checksum = _complete(upload, _order(upload))
    crc = binascii.crc32(b"".join(parts)).to_bytes(4, "big")
    assert checksum == ("FULL_OBJECT", base64.b64encode(crc).decode(), 1)


def test_completing_holds_a_chunk_not_the_object() -> None:
    # GIVEN an upload of eight 5 MiB parts (40 MiB)
    upload = _multipart([os.urandom(5 * MIB) for _ in range(8)])
    order = list(_order(upload))  # the parts' ETags, computed when each part was uploaded
    tracemalloc.start()
    try:
        # WHEN it is completed
        value, _, _ = _complete(upload, iter(order))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN the object was copied chunk by chunk: the peak is the spooled file's in-memory
    # start (5 MB, copied once when it moves to disk) and a chunk; moto's own complete holds
    # the object three times (120 MiB here)
    assert len(value) == 40 * MIB
    assert peak < 16 * MIB, f"peaked at {peak / MIB:.1f} MiB"


class _Body:
    """A request body caught in a reference cycle, as werkzeug's and moto's objects are."""

    def __init__(self, size: int) -> None:
        self.data = bytes(size)
        self.me = self


def _app(made: list[weakref.ref[_Body]], size: int) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        made.append(weakref.ref(_Body(size)))
        return [b"ok"]

    return app


@pytest.mark.parametrize(("length", "freed"), [(8 * MIB, True), (100, False)])
def test_a_large_request_body_is_freed_with_its_request(length: int, freed: bool) -> None:
    # GIVEN moto's application, wrapped, and the automatic collector off (as when it has not
    # come round yet)
    made: list[weakref.ref[_Body]] = []
    app = _collect_after_large_bodies(_app(made, length))
    gc.collect()
    gc.disable()
    try:
        # WHEN a request with a body of ``length`` bytes is answered and its response closed
        response = app({"CONTENT_LENGTH": str(length)}, lambda *a: None)
        assert list(response) == [b"ok"]
        getattr(response, "close", lambda: None)()
        # THEN a large body is gone at once; a small one is left to the collector's own pace
        assert (made[0]() is None) is freed
    finally:
        gc.enable()
