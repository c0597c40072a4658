"""A read-only, seekable file object over HTTP Range requests.

Probing a video needs only its headers: for an MP4 that is the ``ftyp`` box, the ``moov`` box
(often at the *end* of the file) and the first packet of the video track. Downloading a 2 GB
upload to learn its frame rate would be absurd, so :class:`RangedHttpReader` lets PyAV open a
(presigned) URL as if it were a local file and fetches only the blocks the demuxer touches.

Only the standard library is used (``urllib.request``), so the reader works in any service
without pulling in an HTTP client. Each request opens its own connection: probing costs a
handful of requests, which does not justify connection pooling.
"""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_BLOCK_SIZE = 64 * 1024
"""Bytes per HTTP request (at least). PyAV reads 32 KiB at a time; 64 KiB halves the requests
for sequential reads while keeping the waste of a random access small."""

DEFAULT_CACHE_BLOCKS = 32
"""Blocks kept in the LRU cache (2 MiB with the default block size)."""

DEFAULT_TIMEOUT_S = 30.0

_CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class RangeRequestError(OSError):
    """An HTTP range request failed: network error, bad status, or a server ignoring ``Range``.

    This is an ``OSError`` on purpose: it is a problem of the transport, not of the video, so
    callers treat it as transient (retry) rather than as a bad upload.
    """


class PreconditionFailedError(RangeRequestError):
    """The server answered 412 to the reader's ``If-Match``: the object changed since it was
    announced. Not transient: every further request would be refused the same way."""


def redact_url(url: str) -> str:
    """Return ``url`` without its query string.

    A presigned URL carries a credential and a signature in its query: never log it whole.
    """
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class RangedHttpReader(io.RawIOBase):
    """Read-only, seekable binary file over HTTP ``Range`` requests, with an LRU block cache.

    The object is split into ``block_size`` blocks; a read fetches the missing blocks it spans
    (contiguous missing blocks in one request) and keeps the last ``cache_blocks`` blocks, so
    the demuxer's small, repeated reads around the same offsets cost one request each region.

    The size comes from the caller (an S3 event carries it) or from the ``Content-Range`` of
    the first response. No ``HEAD`` is sent: a presigned URL is signed for one method, and a
    ``GET`` URL answers ``HEAD`` with 403 on AWS.

    Attributes:
        requests_made: HTTP requests sent so far.
        bytes_fetched: body bytes received so far.
    """

    def __init__(
        self,
        url: str,
        size: int | None = None,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        if_match: str | None = None,
    ) -> None:
        """Prepare a reader; nothing is fetched until the first read (or ``size`` lookup).

        Args:
            url: an ``http(s)`` URL that honours ``Range`` (a presigned S3 ``GET`` URL).
            size: the object's size in bytes if known (saves nothing but lets a wrong size be
                detected: the first response's ``Content-Range`` must agree).
            block_size: bytes per block, the smallest unit fetched.
            cache_blocks: how many blocks the LRU cache keeps.
            timeout_s: socket timeout of each request.
            if_match: an entity tag sent as ``If-Match`` with every request, so that the
                server refuses (412) to serve any other object than that one: a presigned
                URL names a key, and the key may be overwritten between two range requests.

        Raises:
            ValueError: a negative size, a non-positive block size or cache size, or a URL
                that is not ``http``/``https``.
        """
        super().__init__()
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {redact_url(url)!r}")
        if size is not None and size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        if block_size <= 0 or cache_blocks <= 0:
            raise ValueError("block_size and cache_blocks must be positive")
        self._url = url
        self._size = size
        self._block_size = block_size
        self._cache_blocks = cache_blocks
        self._timeout_s = timeout_s
        self._headers = {} if if_match is None else {"If-Match": if_match}
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self.requests_made = 0
        self.bytes_fetched = 0

    def __repr__(self) -> str:
        return f"RangedHttpReader({redact_url(self._url)!r}, size={self._size})"

    # -- io.RawIOBase interface -------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move the position; seeking past the end is allowed (reads there return ``b""``).

        Raises:
            ValueError: the reader is closed, ``whence`` is unknown, or the position would be
                negative.
            RangeRequestError: ``SEEK_END`` on an unknown size, and the lookup failed.
        """
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence: {whence}")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def read(self, size: int | None = -1, /) -> bytes:
        """Read up to ``size`` bytes (all the rest if negative); ``b""`` at the end.

        Overridden only to promise ``bytes`` (never ``None``: this file never blocks).

        Raises:
            RangeRequestError: a request failed (:class:`PreconditionFailedError`: the object
                no longer matches ``if_match``).
        """
        if size is None or size < 0:
            size = max(self.size - self._pos, 0)
        buffer = bytearray(size)
        n = self.readinto(buffer)
        del buffer[n:]
        return bytes(buffer)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` from the current position; return the number of bytes copied.

        Raises:
            RangeRequestError: a request failed (:class:`PreconditionFailedError`: the object
                no longer matches ``if_match``).
        """
        self._check_open()
        view = memoryview(buffer).cast("B")
        end = min(self._pos + len(view), self.size)
        if end <= self._pos:
            return 0
        first, last = self._pos // self._block_size, (end - 1) // self._block_size
        blocks = self._blocks(first, last)
        copied = 0
        for index in range(first, last + 1):
            block = blocks[index]
            block_start = index * self._block_size
            lo = max(self._pos, block_start) - block_start
            hi = min(end, block_start + len(block)) - block_start
            view[copied : copied + hi - lo] = block[lo:hi]
            copied += hi - lo
        self._pos += copied
        return copied

    def close(self) -> None:
        self._cache.clear()
        super().close()

    # -- internals --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The object's size in bytes (one request for the first block if not given).

        Raises:
            RangeRequestError: the lookup request failed.
        """
        if self._size is None:
            # Fetching block 0 is never wasted: every demuxer starts by reading it.
            self._blocks(0, 0)
        assert self._size is not None  # set by the first response
        return self._size

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _blocks(self, first: int, last: int) -> dict[int, bytes]:
        """Return blocks ``first..last``, fetching each contiguous run of missing ones once."""
        found: dict[int, bytes] = {}
        run_start: int | None = None
        for index in range(first, last + 2):
            cached = self._cache.get(index) if index <= last else None
            if cached is not None:
                self._cache.move_to_end(index)
                found[index] = cached
            missing = index <= last and cached is None
            if missing and run_start is None:
                run_start = index
            elif not missing and run_start is not None:
                found.update(self._fetch(run_start, index - 1))
                run_start = None
        return found

    def _fetch(self, first: int, last: int) -> dict[int, bytes]:
        start = first * self._block_size
        stop = (last + 1) * self._block_size  # exclusive
        if self._size is not None:
            stop = min(stop, self._size)
            if stop <= start:
                return {index: b"" for index in range(first, last + 1)}
        body, total = self._get(start, stop - 1)
        if self._size is None:
            self._size = total
        elif total != self._size:
            raise RangeRequestError(
                f"{redact_url(self._url)}: object size changed: expected {self._size} bytes, "
                f"the server says {total}"
            )
        expected = max(min(stop, total) - start, 0)
        if len(body) != expected:
            raise RangeRequestError(
                f"{redact_url(self._url)}: short read at byte {start}: "
                f"got {len(body)} of {expected} bytes"
            )
        fetched: dict[int, bytes] = {}
        for index in range(first, last + 1):
            offset = (index - first) * self._block_size
            fetched[index] = body[offset : offset + self._block_size]
            self._cache[index] = fetched[index]
            self._cache.move_to_end(index)
        while len(self._cache) > self._cache_blocks:
            self._cache.popitem(last=False)
        return fetched

    def _get(self, first_byte: int, last_byte: int) -> tuple[bytes, int]:
        """GET ``bytes=first_byte-last_byte``; return the body and the object's total size."""
        where = f"{redact_url(self._url)} bytes={first_byte}-{last_byte}"
        request = urllib.request.Request(
            self._url, headers={**self._headers, "Range": f"bytes={first_byte}-{last_byte}"}
        )
        self.requests_made += 1
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                if response.status != 206:
                    # A 200 would stream the whole object: refuse rather than download 2 GB.
                    raise RangeRequestError(
                        f"{where}: HTTP {response.status}, expected 206 (Range not honoured)"
                    )
                total = _total_size(response.headers.get("Content-Range"), where)
                body: bytes = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 416:
                # Range Not Satisfiable: the object is empty (or shorter than we thought).
                # S3 reports the real size as "bytes */N"; moto sends no Content-Range, but
                # a range starting at byte 0 is unsatisfiable only for an empty object.
                content_range = exc.headers.get("Content-Range")
                if content_range is None and first_byte == 0:
                    return b"", 0
                return b"", _total_size(content_range, where)
            if exc.code == 412:
                raise PreconditionFailedError(
                    f"{where}: HTTP 412, the object no longer matches If-Match"
                ) from exc
            raise RangeRequestError(f"{where}: HTTP {exc.code} {exc.reason}") from exc
        except RangeRequestError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise RangeRequestError(f"{where}: {reason}") from exc
        self.bytes_fetched += len(body)
        return body, total


def _total_size(content_range: str | None, where: str) -> int:
    match = _CONTENT_RANGE.match((content_range or "").strip())
    if match is None or match.group(3) == "*":
        raise RangeRequestError(f"{where}: unusable Content-Range {content_range!r}")
    return int(match.group(3))
