"""moto's S3, made to hold a few megabytes of an object in memory rather than all of it.

moto keeps each object's bytes in a ``SpooledTemporaryFile`` (in memory up to about 5 MB, on
disk beyond), which would be fine, but three paths read the whole object into memory:

* ``GetObject`` returns ``key.value``: every byte, read from the buffer into one ``bytes``,
  then handed to the WSGI server. A ranged ``GET`` (the probe's 64 KB reads of the container
  headers) reads *the whole object* and slices it, so probing a 2 GB upload read 2 GB per
  request, and a download held the whole file once more;
* ``CompleteMultipartUpload`` concatenates every part into one ``bytearray``, copies it to
  ``bytes``, and, for a full-object checksum (the default CRC64NVME), into one more;
* a single ``PutObject`` body arrives whole (WSGI reads the request body before moto sees it).

Measured on a 276 MB upload: the emulator process peaked at 633 MB for the ``PUT`` and 650 MB
after one 64 KB ranged ``GET``. This module patches the first two, in the emulator process only
(:mod:`videosense.moto_server` applies it):

* a ``GetObject`` body is a :class:`KeyBody`: a view of the key's buffer with a length that
  moto's range handling slices like ``bytes`` and the WSGI server iterates, reading
  :data:`READ_CHUNK` bytes at a time under the key's lock;
* a multipart upload is completed by copying the parts into the new key's buffer chunk by
  chunk (a spooled file like moto's, on disk past 5 MB), the full-object checksum computed
  incrementally (the same value moto computes).

The third is left to the client: our uploads go in parts (:func:`videosense_shared.objects.
upload_file`), as the AWS CLI's and boto3's transfers do above 8 MB, so no request body is
larger than a part. See ``docs/architecture.md`` (the embedded emulator).

Known difference from S3: an object deleted or overwritten (in an unversioned bucket) while a
``GET`` of it is being streamed ends that response early (moto closes the old buffer), where S3
would finish serving the old object; the reader sees a short body and retries.
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

READ_CHUNK = 1024 * 1024
"""Bytes read from a key's buffer at a time, for a response or a multipart copy."""

_local = threading.local()


class KeyBody:
    """A read-only view of ``[start, stop)`` of a moto key's bytes, without holding them.

    It answers what moto's response code asks of a body: ``len()``, truth, and slicing with
    a step of one (``_handle_range_header`` slices ``[begin : end + 1]``); iterating yields the
    bytes in :data:`READ_CHUNK` pieces, read from the key's buffer under the key's lock.
    """

    def __init__(self, key: Any, start: int = 0, stop: int | None = None) -> None:
        self._key = key
        size = int(key.size)
        self._start = min(max(start, 0), size)
        self._stop = size if stop is None else min(max(stop, self._start), size)

    def __len__(self) -> int:
        return self._stop - self._start

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: slice) -> KeyBody:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a key body can only be sliced with a step of one")
        first, last, _ = index.indices(len(self))
        return KeyBody(self._key, self._start + first, self._start + max(last, first))

    def __iter__(self) -> Iterator[bytes]:
        position = self._start
        while position < self._stop:
            with self._key.lock:
                buffer = self._key._value_buffer
                buffer.seek(position)
                data: bytes = buffer.read(min(READ_CHUNK, self._stop - position))
            if not data:
                return  # the key was truncated under us: a short body, as said above
            position += len(data)
            yield data

    def read_all(self) -> bytes:
        """The whole range as ``bytes`` (for small objects and tests)."""
        return b"".join(self)


class ComposedValue:
    """The value of a completed multipart upload: a spooled file the parts were copied into,
    chunk by chunk, which the patched ``FakeKey.value`` setter adopts as the new key's buffer.

    The copy is made while completing because moto closes the parts' buffers as soon as the
    upload is complete (before the new key is built).
    """

    def __init__(self, parts: list[Any]) -> None:
        from moto.settings import get_s3_default_key_buffer_size

        # Handed over to the new key, which closes it when the key is disposed of.
        self.buffer: Any = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            get_s3_default_key_buffer_size()
        )
        self.size = 0
        for part in parts:
            for data in KeyBody(part):
                self.buffer.write(data)
                self.size += len(data)

    def __len__(self) -> int:
        return self.size


class _Checksum:
    """moto's ``compute_checksum`` for one algorithm, fed piece by piece.

    The fallbacks are moto's own: without the optional ``crc32c`` library CRC32C is computed as
    CRC32, and without ``awscrt`` CRC64NVME is too, so the value equals what moto stores.
    """

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._hash: Any = None
        self._crc = 0
        self._width = 4
        self._update: Callable[[bytes, int], int] = binascii.crc32
        if algorithm == "SHA1":
            self._hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm in ("CRC32", "CRC32C", "CRC64NVME"):
            self._update, self._width = _crc_function(algorithm)
        else:
            self._hash = hashlib.sha256(usedforsecurity=False)

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = self._update(data, self._crc)

    def digest_b64(self) -> str:
        raw = (
            self._hash.digest()
            if self._hash is not None
            else self._crc.to_bytes(self._width, "big")
        )
        return base64.b64encode(raw).decode()


def _crc_function(algorithm: str) -> tuple[Callable[[bytes, int], int], int]:
    from moto.s3 import utils

    has_crt = bool(getattr(utils, "HAS_CRT", False))

    if algorithm == "CRC32C":
        try:
            import crc32c  # type: ignore[import-not-found]
        except ImportError:
            return binascii.crc32, 4
        return (lambda data, value: int(crc32c.crc32c(data, value=value))), 4
    if algorithm == "CRC64NVME" and has_crt:
        from awscrt import checksums  # type: ignore[import-not-found]

        return (lambda data, value: int(checksums.crc64nvme(data, value))), 8
    return binascii.crc32, 4


def _complete(self: Any, body: Iterator[tuple[int, str]]) -> tuple[Any, str, Any]:
    """``FakeMultipart.complete`` without concatenating the parts in memory.

    Same checks, ETag and checksum as moto's; the value is a :class:`ComposedValue`.
    """
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.utils import compute_checksum
    from moto.settings import S3_UPLOAD_PART_MIN_SIZE

    algorithm: str = self.metadata.get("x-amz-checksum-algorithm") or "CRC64NVME"
    checksum_type: str = self.metadata.get("x-amz-checksum-type") or (
        "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
    )
    md5s = bytearray()
    part_checksums = bytearray()
    full = _Checksum(algorithm)
    parts: list[Any] = []
    last = None
    for number, etag in body:
        part = self.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        if checksum_type == "COMPOSITE":
            # One part at a time: bounded by the part size.
            part_checksums.extend(compute_checksum(part.value, algorithm, encode_base64=False))
        else:
            for data in KeyBody(part):
                full.update(data)
        parts.append(part)
        last = part
    if not parts:
        raise MalformedXML
    etag_md5 = hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()
    if checksum_type == "COMPOSITE":
        checksum = compute_checksum(bytes(part_checksums), algorithm).decode()
        details = (checksum_type, checksum, len(parts))
    else:
        details = (checksum_type, full.digest_b64(), 1)
    return ComposedValue(parts), f"{etag_md5}-{len(parts)}", details


def _lazy_get_object(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get_object(self: Any) -> Any:
        # While moto builds a GetObject response, ``key.value`` is a view, not the bytes.
        _local.lazy = True
        try:
            return original(self)
        finally:
            _local.lazy = False

    return get_object


LARGE_BODY = 1024 * 1024
"""A request body this large is collected as soon as its response is sent (see below)."""


def _collect_after_large_bodies(app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap moto's WSGI application so that a large request body is freed with its request.

    A request's body ends up in reference cycles among the per-request objects (werkzeug's
    request, moto's response handler), which only the cyclic garbage collector frees; it runs
    on object counts, not bytes, so under a stream of 8 MB parts the bodies piled up (the
    emulator grew by about 120 MB per 10 minutes of 720p uploaded). A collection after each
    large request frees them; the young generations suffice (the cycles are new) and cost far
    less than a full collection.
    """

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        large = int(environ.get("CONTENT_LENGTH") or 0) >= LARGE_BODY
        response = app(environ, start_response)
        if not large:
            return response
        return _CollectOnClose(response)

    return application


class _CollectOnClose:
    """A WSGI response that runs the garbage collector once it has been sent."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        close = getattr(self._response, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._response = None
            gc.collect(1)


def _wrapped_call(call: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        return _collect_after_large_bodies(lambda e, s: call(self, e, s))(environ, start_response)

    return wrapped


def patch_moto_s3() -> None:
    """Patch moto's S3 in this process (idempotent): streamed ``GetObject`` bodies, multipart
    completion without the whole object in memory."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.s3.models import FakeKey, FakeMultipart
    from moto.s3.responses import S3Response

    if getattr(FakeKey, "_videosense_streaming", False):
        return
    value = FakeKey.value
    assert isinstance(value, property)
    assert value.fget is not None
    assert value.fset is not None
    read_value, write_value = value.fget, value.fset

    def get_value(self: Any) -> Any:
        if getattr(_local, "lazy", False):
            return KeyBody(self)
        return read_value(self)

    def set_value(self: Any, new_value: Any) -> None:
        if not isinstance(new_value, ComposedValue):
            write_value(self, new_value)
            return
        self._value_buffer.close()
        self._value_buffer = new_value.buffer
        self.contentsize = new_value.size

    FakeKey.value = property(get_value, set_value)
    FakeMultipart.complete = _complete
    S3Response.get_object = _lazy_get_object(S3Response.get_object)
    DomainDispatcherApplication.__call__ = _wrapped_call(DomainDispatcherApplication.__call__)
    FakeKey._videosense_streaming = True
