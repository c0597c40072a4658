"""Media probing on real files made by the ffmpeg binary, locally and over real HTTP.

Clips are tiny (160x120, 1-2 s) except two ~5 MB ones that show a probe over HTTP fetches a
small fraction of the file whether the ``moov`` box sits at the start or at the end. The HTTP
server is a real ``ThreadingHTTPServer`` that honours ``Range`` and counts what it serves.
"""

from __future__ import annotations

import http.server
import io
import re
import shutil
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # no boto3-stubs in the venv
import pytest
from moto.server import ThreadedMotoServer

from ingest.settings import IngestSettings
from tests.support.hostile_media import (
    endless_tiny_video,
    huge_frame_video,
    jpeg_named,
    text_named,
    wav_named,
)
from videosense_shared.media import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_FRAME_PIXELS,
    MediaProbeError,
    ProbeLimits,
    RangedHttpReader,
    RangeRequestError,
    probe_file,
    probe_stream,
    probe_url,
)

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="needs the ffmpeg binary to make clips")

TESTSRC = "-f lavfi -i testsrc=size=160x120:rate=25"
SINE = "-f lavfi -i sine=frequency=440"
H264 = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p"
# Noise defeats compression, so 3 s at 320x240 make a ~5.5 MB file in a fraction of a second.
NOISY = "-f lavfi -i testsrc2=size=320x240:rate=25,noise=alls=40:allf=t"

# ffmpeg arguments (split on spaces) that make each clip.
RECIPES: dict[str, str] = {
    "h264_aac.mp4": f"{TESTSRC} {SINE} -t 1 {H264} -c:a aac",
    "h264_silent.mp4": f"{TESTSRC} -t 1 {H264}",
    "vp9_opus.webm": f"{TESTSRC} {SINE} -t 2 -c:v libvpx-vp9 -deadline realtime -c:a libopus",
    "mpeg4_silent.mkv": f"{TESTSRC} -t 1 -c:v mpeg4",
    "h264_aac.ts": f"{TESTSRC} {SINE} -t 1 {H264} -c:a aac",
    # The mp4 muxer writes moov at the end unless told otherwise.
    "large_moov_at_end.mp4": f"{NOISY} {SINE} -t 3 {H264} -qp 18 -c:a aac",
    "still.png": f"{TESTSRC} -frames:v 1",
    # 8192x4352 is 1 Mpx over the default limit (8192x4320); two flat frames encode at once.
    "too_big.mp4": f"-f lavfi -i color=size=8192x4352:rate=25 -frames:v 2 {H264}",
    # One frame every 10 minutes: a 7 h video in a few kilobytes.
    "too_long.mp4": f"-f lavfi -i color=size=16x16:rate=1/600 -t 25200 {H264}",
    # Audio alone: accepted (a transcript, no frames).
    "sine.mp3": f"{SINE} -t 2 -c:a libmp3lame",
    "sine.flac": f"{SINE} -t 2 -c:a flac",
    "sine.m4a": f"{SINE} -t 2 -c:a aac",
    "sine.wav": f"{SINE} -t 2 -c:a pcm_s16le",
}
# Clips remuxed from another (no re-encoding): (source clip, ffmpeg options).
REMUXED: dict[str, tuple[str, str]] = {
    "large_faststart.mp4": ("large_moov_at_end.mp4", "-c copy -movflags +faststart"),
    "large.mkv": ("large_moov_at_end.mp4", "-c copy"),
    "large.ts": ("large_moov_at_end.mp4", "-c copy"),
}
COVER_ART = "-t 1 -map 0 -map 1 -c:a libmp3lame -c:v png -disposition:v attached_pic"


def _ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        check=True,
        timeout=60,
    )


def _top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level ISO BMFF box; test-side ground truth."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append((data[offset + 4 : offset + 8], offset, size))
        offset += size
    return boxes


def _box(data: bytes, box_type: bytes) -> tuple[int, int]:
    [(offset, size)] = [(o, s) for t, o, s in _top_level_boxes(data) if t == box_type]
    return offset, size


def _zero_mdat_payload(data: bytes) -> bytes:
    offset, size = _box(data, b"mdat")
    return data[: offset + 8] + bytes(size - 8) + data[offset + size :]


# Clips derived from others by editing bytes: (source clip, edit).
DERIVED: dict[str, tuple[str | None, Callable[[bytes], bytes]]] = {
    "empty.mp4": (None, lambda _: b""),
    "text.mp4": (None, lambda _: b"This is a shopping list, not a video.\nmilk\neggs\n"),
    "first_half.mp4": ("h264_aac.mp4", lambda d: d[: len(d) // 2]),
    "cut_before_moov.mp4": ("h264_aac.mp4", lambda d: d[: _box(d, b"moov")[0]]),
    "faststart_cut.mp4": ("large_faststart.mp4", lambda d: d[: len(d) * 6 // 10]),
    "zeroed_video.mp4": ("h264_silent.mp4", _zero_mdat_payload),
}


# Hostile files made in Python (tests.support.hostile_media), some under an extension that lies.
MADE: dict[str, Callable[[Path], Path]] = {
    "huge_16384.mov": huge_frame_video,
    "ten_hours_2x2.mp4": endless_tiny_video,
    "photo_named.mp4": jpeg_named,
    "sound_named.mov": wav_named,
    "text_named.mkv": text_named,
    "subtitles_named.mkv": lambda path: _write(path, "1\n00:00:00,000 --> 00:00:01,500\nhi\n"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


class Clips:
    """Makes each clip on first use, once per test module."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, name: str) -> Path:
        path = self.root / name
        if path.exists():
            return path
        if name in MADE:
            MADE[name](path)
        elif name in RECIPES:
            _ffmpeg(*RECIPES[name].split(), str(path))
        elif name in REMUXED:
            source, options = REMUXED[name]
            _ffmpeg("-i", str(self(source)), *options.split(), str(path))
        elif name == "cover_art.mp3":
            # An MP3 with an embedded picture: PyAV lists the picture as a video stream.
            picture = self("still.png")
            _ffmpeg(*SINE.split(), "-i", str(picture), *COVER_ART.split(), str(path))
        else:
            origin, edit = DERIVED[name]
            path.write_bytes(edit(self(origin).read_bytes() if origin else b""))
        return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    return Clips(tmp_path_factory.mktemp("clips"))


# -- a real HTTP server that honours Range --------------------------------------------------


@dataclass
class Served:
    mode: str
    name: str
    status: int
    body_bytes: int


@dataclass
class FileServer:
    """Serves ``root`` at ``/<mode>/<name>``. Modes: ``range`` (honours Range, like S3),
    ``ignore-range`` (always 200 and the whole file), ``first-block-only`` (500 for any range
    not starting at byte 0)."""

    root: Path
    base_url: str = ""
    log: list[Served] = field(default_factory=list)

    def url(self, name: str, mode: str = "range") -> str:
        # A presigned-looking query: error messages must never repeat it.
        return f"{self.base_url}/{mode}/{name}?X-Amz-Signature=topsecret"

    def served(self, name: str) -> tuple[int, int]:
        """(requests, body bytes) served for ``name`` so far."""
        hits = [s for s in self.log if s.name == name]
        return len(hits), sum(s.body_bytes for s in hits)


def _handler_for(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class RangeHandler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def _reply(self, mode: str, name: str, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for header, value in headers.items():
                self.send_header(header.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            server.log.append(Served(mode, name, status, len(body)))

        def do_GET(self) -> None:
            mode, _, name = urllib.parse.urlsplit(self.path).path.lstrip("/").partition("/")
            path = server.root / name
            if not path.is_file():
                self._reply(mode, name, 404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            data = path.read_bytes()
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
            if mode == "ignore-range" or match is None:
                self._reply(mode, name, 200, data)
                return
            first, last = int(match[1]), min(int(match[2]), len(data) - 1)
            if mode == "first-block-only" and first > 0:
                self._reply(mode, name, 500, b"<Error><Code>InternalError</Code></Error>")
            elif first >= len(data):
                self._reply(mode, name, 416, b"", Content_Range=f"bytes */{len(data)}")
            else:
                self._reply(
                    mode,
                    name,
                    206,
                    data[first : last + 1],
                    Content_Range=f"bytes {first}-{last}/{len(data)}",
                )

    return RangeHandler


@pytest.fixture(scope="module")
def http_files(clips: Clips) -> Iterator[FileServer]:
    files = FileServer(root=clips.root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(files))
    files.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield files
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _probe(transport: str, clips: Clips, http_files: FileServer, name: str) -> Any:
    path = clips(name)
    if transport == "file":
        return probe_file(path)
    return probe_url(http_files.url(name), path.stat().st_size)


TRANSPORTS = [pytest.param("file", id="local-file"), pytest.param("http", id="over-http")]


# -- good videos: ground truth as data ---------------------------------------------------------


def tiny(duration_s: float, frame_count: int, codec: str, has_audio: bool) -> dict[str, Any]:
    """Expected facts of a 160x120, 25 fps test clip."""
    return {
        "duration_s": duration_s,
        "fps": 25.0,
        "width": 160,
        "height": 120,
        "frame_count": frame_count,
        "video_codec": codec,
        "has_audio": has_audio,
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("h264_aac.mp4", tiny(1.0, 25, "h264", True), id="mp4-h264-with-audio"),
        pytest.param("h264_silent.mp4", tiny(1.0, 25, "h264", False), id="mp4-h264-no-audio"),
        pytest.param(
            "vp9_opus.webm",
            tiny(2.0, 50, "vp9", True),
            id="webm-vp9-opus-frame-count-from-duration",
        ),
        pytest.param("mpeg4_silent.mkv", tiny(1.0, 25, "mpeg4", False), id="mkv-mpeg4"),
        pytest.param("h264_aac.ts", tiny(1.0, 25, "h264", True), id="mpeg-ts-h264-aac"),
    ],
)
def test_a_good_video_yields_its_facts(
    transport: str, name: str, expected: dict[str, Any], clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a small real video made by ffmpeg
    # WHEN it is probed (from disk, or over HTTP Range requests)
    facts = _probe(transport, clips, http_files, name)

    # THEN its facts are the ones ffmpeg was asked to produce (AAC/Opus priming and container
    # rounding move the duration by a few milliseconds)
    duration = pytest.approx(expected["duration_s"], abs=0.05)
    assert facts.model_dump() == expected | {"duration_s": duration}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "duration_s"),
    [
        pytest.param("sine.mp3", 2.0, id="mp3"),
        pytest.param("sine.flac", 2.0, id="flac"),
        pytest.param("sine.m4a", 2.0, id="m4a-aac"),
        pytest.param("sine.wav", 2.0, id="wav"),
        pytest.param("cover_art.mp3", 1.0, id="mp3-with-cover-art"),
        pytest.param("sound_named.mov", 1.0, id="wav-named-mov"),
    ],
)
def test_audio_alone_is_accepted_with_no_frames(
    transport: str, name: str, duration_s: float, clips: Clips, http_files: FileServer
) -> None:
    # GIVEN audio with no video stream (cover art does not count as one), whatever its name
    # WHEN it is probed
    facts = _probe(transport, clips, http_files, name)

    # THEN it is accepted with its duration and audio, and no frames, size or video codec
    assert facts.model_dump() == {
        "duration_s": pytest.approx(duration_s, abs=0.1),
        "fps": 0.0,
        "width": 0,
        "height": 0,
        "frame_count": 0,
        "video_codec": "",
        "has_audio": True,
    }
    assert not facts.has_video


def test_a_stream_is_probed_from_any_position_and_left_open(clips: Clips) -> None:
    # GIVEN an in-memory video whose read position is somewhere in the middle
    stream = io.BytesIO(clips("h264_aac.mp4").read_bytes())
    stream.seek(1234)

    # WHEN it is probed as a stream
    facts = probe_stream(stream)

    # THEN the facts match the file's, and the caller still owns an open stream
    assert facts == probe_file(clips("h264_aac.mp4"))
    assert not stream.closed


# -- bad videos: every failure is one short readable reason ------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        pytest.param("empty.mp4", r"empty file \(0 bytes\)", id="zero-bytes"),
        pytest.param(
            "text.mp4",
            r"not a video: Invalid data found when processing input",
            id="text-file-named-mp4",
        ),
        pytest.param("still.png", r"not a video: still image \(png_pipe\)", id="png-image"),
        pytest.param(
            "first_half.mp4",
            r"truncated or corrupt: mp4 box 'mdat' needs \d+ bytes but the file ends at \d+"
            r" \(and no moov atom\)",
            id="first-half-of-mp4-moov-missing",
        ),
        pytest.param(
            "cut_before_moov.mp4",
            r"truncated or corrupt: mp4 has no moov atom \(.*\)",
            id="mp4-ends-exactly-before-moov",
        ),
        pytest.param(
            "faststart_cut.mp4",
            r"truncated or corrupt: mp4 box 'mdat' needs \d+ bytes but the file ends at \d+",
            id="faststart-mp4-cut-in-its-data",
        ),
        pytest.param(
            "zeroed_video.mp4",
            r"truncated or corrupt: no decodable video frame \(.+\)",
            id="intact-headers-undecodable-frames",
        ),
        pytest.param(
            "too_big.mp4",
            r"frame size 8192x4352 \(35\.7 Mpx\) exceeds the limit of 35\.4 Mpx per frame"
            r" \(VIDEOSENSE_INGEST_MAX_FRAME_PIXELS\)",
            id="over-8192x4320",
        ),
        pytest.param(
            "huge_16384.mov",
            r"frame size 16384x16384 \(268\.4 Mpx\) exceeds the limit of 35\.4 Mpx per frame"
            r" \(VIDEOSENSE_INGEST_MAX_FRAME_PIXELS\)",
            id="16384x16384-too-large-even-for-ffmpeg",
        ),
        pytest.param(
            "too_long.mp4",
            r"duration 7:00:00 exceeds the limit of 6:00:00 \(VIDEOSENSE_INGEST_MAX_DURATION_S\)",
            id="longer-than-6h",
        ),
        pytest.param(
            "ten_hours_2x2.mp4",
            r"duration 10:00:00 exceeds the limit of 6:00:00 \(VIDEOSENSE_INGEST_MAX_DURATION_S\)",
            id="ten-hours-of-2x2",
        ),
        pytest.param(
            "photo_named.mp4", r"not a video: still image \(jpeg_pipe\)", id="jpeg-named-mp4"
        ),
        pytest.param(
            "text_named.mkv",
            r"not a video: Invalid data found when processing input",
            id="text-named-mkv",
        ),
        pytest.param("subtitles_named.mkv", r"no video stream", id="subtitles-alone"),
    ],
)
def test_a_bad_video_fails_with_a_short_readable_reason(
    transport: str, name: str, reason: str, clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a file that is not a usable video
    # WHEN it is probed THEN MediaProbeError carries exactly one short line of reason
    with pytest.raises(MediaProbeError) as caught:
        _probe(transport, clips, http_files, name)
    message = str(caught.value)
    assert re.fullmatch(reason, message), message
    assert caught.value.reason == message
    assert len(message) < 160
    assert "\n" not in message
    assert "Traceback" not in message


def test_the_default_limits_are_8k_frames_and_six_hours() -> None:
    # GIVEN no configuration WHEN ingest's probe limits are read THEN they are the defaults,
    # named after ingest's own settings
    limits = IngestSettings().probe_limits
    assert limits == ProbeLimits()
    assert limits.max_frame_pixels == DEFAULT_MAX_FRAME_PIXELS == 8192 * 4320
    assert limits.max_duration_s == DEFAULT_MAX_DURATION_S == 6 * 3600
    assert limits.frame_pixels_setting == "VIDEOSENSE_INGEST_MAX_FRAME_PIXELS"
    assert limits.duration_setting == "VIDEOSENSE_INGEST_MAX_DURATION_S"


def test_the_limits_follow_ingest_settings(clips: Clips, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN ingest configured for small frames and short videos through its environment
    monkeypatch.setenv("VIDEOSENSE_INGEST_MAX_FRAME_PIXELS", str(160 * 120 - 1))
    monkeypatch.setenv("VIDEOSENSE_INGEST_MAX_DURATION_S", "0.5")
    limits = IngestSettings().probe_limits

    # WHEN a 160x120 clip of 1 s is probed with them THEN the frame size is refused first,
    # naming the limit and the setting
    with pytest.raises(MediaProbeError) as caught:
        probe_file(clips("h264_silent.mp4"), limits)
    assert str(caught.value) == (
        "frame size 160x120 (19200 px) exceeds the limit of 19199 px per frame"
        " (VIDEOSENSE_INGEST_MAX_FRAME_PIXELS)"
    )

    # AND with frames allowed, the duration is refused, naming its setting
    roomy = ProbeLimits(
        max_frame_pixels=160 * 120,
        max_duration_s=limits.max_duration_s,
        duration_setting=limits.duration_setting,
    )
    with pytest.raises(MediaProbeError) as caught:
        probe_file(clips("h264_silent.mp4"), roomy)
    assert str(caught.value) == (
        "duration 0:00:01 exceeds the limit of 0:00:00 (VIDEOSENSE_INGEST_MAX_DURATION_S)"
    )

    # AND exactly at the limits the clip is accepted
    exact = ProbeLimits(max_frame_pixels=160 * 120, max_duration_s=1.0)
    assert probe_file(clips("h264_silent.mp4"), exact).width == 160


def test_an_empty_object_is_rejected_without_any_request(http_files: FileServer) -> None:
    # GIVEN an upload notification that reported 0 bytes
    requests_before = len(http_files.log)

    # WHEN it is probed over HTTP THEN it fails as empty, and nothing was fetched
    with pytest.raises(MediaProbeError, match=r"^empty file \(0 bytes\)$"):
        probe_url(http_files.url("empty.mp4"), 0)
    assert len(http_files.log) == requests_before


# -- probing over HTTP fetches only what the demuxer needs ---------------------------------------


@pytest.mark.parametrize(
    ("name", "moov_first"),
    [
        pytest.param("large_moov_at_end.mp4", False, id="moov-at-the-end"),
        pytest.param("large_faststart.mp4", True, id="faststart-moov-first"),
    ],
)
def test_probing_over_http_fetches_a_small_fraction_of_a_large_file(
    name: str, moov_first: bool, clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a ~5 MB mp4, with its moov box where the test says
    path = clips(name)
    size = path.stat().st_size
    boxes = [box_type for box_type, _, _ in _top_level_boxes(path.read_bytes())]
    assert size > 5_000_000
    assert (boxes.index(b"moov") < boxes.index(b"mdat")) is moov_first

    # WHEN it is probed through HTTP Range requests
    requests_before, bytes_before = http_files.served(name)
    facts = probe_url(http_files.url(name), size)
    requests_after, bytes_after = http_files.served(name)
    requests, fetched = requests_after - requests_before, bytes_after - bytes_before

    # THEN the facts are the local file's, from a handful of requests and under 5% of the bytes
    assert facts == probe_file(path)
    assert facts.width == 320
    assert requests <= 4
    assert fetched < size * 0.05, f"fetched {fetched} of {size} bytes"


# -- RangedHttpReader ------------------------------------------------------------------------


def test_the_reader_returns_exactly_the_bytes_of_the_file(
    clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a reader with small blocks over a file, and the file's bytes
    data = clips("h264_aac.mp4").read_bytes()
    with RangedHttpReader(http_files.url("h264_aac.mp4"), len(data), block_size=1000) as reader:
        # WHEN it reads across block boundaries, at the end, past the end and to the end
        reads = []
        for offset, count in [(0, 16), (990, 25), (4321, 3000), (len(data) - 5, 100)]:
            reader.seek(offset)
            reads.append((reader.read(count), reader.tell()))
        reader.seek(-10, io.SEEK_END)
        tail = reader.read()
        reader.seek(len(data) + 50)
        past_end = reader.read(10)

    # THEN every read matches the file, positions advance by what was read, EOF reads b""
    assert reads == [
        (data[0:16], 16),
        (data[990:1015], 1015),
        (data[4321:7321], 7321),
        (data[-5:], len(data)),
    ]
    assert tail == data[-10:]
    assert past_end == b""


def test_the_reader_learns_the_size_from_the_first_content_range(
    clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a reader that was not told the size
    size = clips("h264_aac.mp4").stat().st_size
    reader = RangedHttpReader(http_files.url("h264_aac.mp4"), block_size=1024)

    # WHEN the size is asked, then the start of the file is read
    learned = reader.size
    head = reader.read(100)

    # THEN one request (for block 0) answered both
    assert learned == size
    assert len(head) == 100
    assert reader.requests_made == 1


def test_the_reader_learns_that_an_object_is_empty_from_a_416(
    clips: Clips, http_files: FileServer
) -> None:
    # GIVEN an empty file, served like S3 serves it: 416 with "Content-Range: bytes */0"
    clips("empty.mp4")
    reader = RangedHttpReader(http_files.url("empty.mp4"))

    # WHEN its size is asked and it is read THEN it is empty
    assert reader.size == 0
    assert reader.read() == b""


def test_the_block_cache_is_lru_and_coalesces_missing_blocks(
    clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a reader that keeps 2 blocks of 1 KiB
    data = clips("h264_aac.mp4").read_bytes()
    reader = RangedHttpReader(
        http_files.url("h264_aac.mp4"), len(data), block_size=1024, cache_blocks=2
    )

    def read_block(index: int) -> int:
        reader.seek(index * 1024)
        assert reader.read(1024) == data[index * 1024 : (index + 1) * 1024]
        return reader.requests_made

    # WHEN blocks are read in the order 0, 1, 0, 2, 0, 1
    counts = [read_block(i) for i in (0, 1, 0, 2, 0, 1)]

    # THEN a cached block costs nothing, and block 2 evicted the least recently used (1)
    assert counts == [1, 2, 2, 3, 3, 4]

    # AND a read spanning 5 uncached blocks costs one request
    reader.seek(8 * 1024)
    assert reader.read(5 * 1024) == data[8 * 1024 : 13 * 1024]
    assert reader.requests_made == 5


def _refused_url() -> str:
    # Bind then close a socket: the port is free and nothing listens on it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/range/clip.mp4?X-Amz-Signature=topsecret"


@pytest.mark.parametrize(
    ("make_reader", "reason"),
    [
        pytest.param(
            lambda files: RangedHttpReader(files.url("nowhere.mp4"), 100),
            r"HTTP 404",
            id="missing-object",
        ),
        pytest.param(
            lambda files: RangedHttpReader(files.url("h264_aac.mp4", mode="ignore-range"), 16592),
            r"HTTP 200, expected 206 \(Range not honoured\)",
            id="server-ignores-range",
        ),
        pytest.param(
            lambda files: RangedHttpReader(files.url("h264_aac.mp4"), 1_000_000),
            r"object size changed: expected 1000000 bytes",
            id="object-replaced-since-the-event",
        ),
        pytest.param(
            lambda files: RangedHttpReader(_refused_url(), 100),
            r"Connection refused",
            id="connection-refused",
        ),
    ],
)
def test_a_transport_failure_is_a_range_request_error_without_the_signature(
    make_reader: Callable[[FileServer], RangedHttpReader],
    reason: str,
    clips: Clips,
    http_files: FileServer,
) -> None:
    # GIVEN a reader whose requests cannot succeed
    clips("h264_aac.mp4")
    reader = make_reader(http_files)

    # WHEN it reads THEN RangeRequestError (an OSError) explains, without the URL's query
    with pytest.raises(RangeRequestError, match=reason) as caught:
        reader.read(10)
    assert isinstance(caught.value, OSError)
    assert "topsecret" not in str(caught.value)
    assert "topsecret" not in repr(reader)


def test_a_transport_failure_inside_the_demuxer_is_not_blamed_on_the_video(
    clips: Clips, http_files: FileServer
) -> None:
    # GIVEN a server that answers the first block of a faststart mp4, then fails with 500s, so
    # that the failure happens while PyAV reads the first video packet
    size = clips("large_faststart.mp4").stat().st_size

    # WHEN it is probed THEN the reader's own error comes out through PyAV, unchanged: the
    # consumer retries it instead of failing the video
    with pytest.raises(RangeRequestError, match=r"HTTP 500"):
        probe_url(http_files.url("large_faststart.mp4", mode="first-block-only"), size)


def test_the_reader_refuses_what_it_cannot_do(http_files: FileServer) -> None:
    with pytest.raises(ValueError, match="not an http"):
        RangedHttpReader("file:///etc/passwd", 10)
    with pytest.raises(ValueError, match="size must be >= 0"):
        RangedHttpReader(http_files.url("x.mp4"), -1)
    reader = RangedHttpReader(http_files.url("x.mp4"), 10)
    with pytest.raises(ValueError, match="negative seek"):
        reader.seek(-1)
    reader.close()
    with pytest.raises(ValueError, match="closed file"):
        reader.read(1)


# -- through a real S3 emulator with a presigned URL ------------------------------------------


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    # Private to this module on purpose: the shared emulator fixture lives in tests/conftest.py.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


@pytest.mark.integration
def test_a_presigned_s3_url_is_probed_with_a_few_range_requests(moto_s3: Any, clips: Clips) -> None:
    # GIVEN a ~5 MB mp4 with moov at the end, uploaded under a key with spaces and UTF-8
    path = clips("large_moov_at_end.mp4")
    moto_s3.create_bucket(Bucket="videosense-probe")
    key = "uploads/été 2026/clip one.mp4"
    moto_s3.put_object(Bucket="videosense-probe", Key=key, Body=path.read_bytes())
    url = moto_s3.generate_presigned_url(
        "get_object", Params={"Bucket": "videosense-probe", "Key": key}, ExpiresIn=300
    )

    # WHEN it is probed through the presigned URL
    with RangedHttpReader(url, path.stat().st_size) as reader:
        facts = probe_stream(reader)

    # THEN the facts match the local file's, from a small fraction of the bytes
    assert facts == probe_file(path)
    assert reader.bytes_fetched < path.stat().st_size * 0.05


@pytest.mark.integration
def test_an_empty_s3_object_is_recognised_from_moto_416(moto_s3: Any) -> None:
    # GIVEN an empty object (moto answers its range request with 416 and no Content-Range)
    moto_s3.create_bucket(Bucket="videosense-empty")
    moto_s3.put_object(Bucket="videosense-empty", Key="uploads/empty.mp4", Body=b"")
    url = moto_s3.generate_presigned_url(
        "get_object", Params={"Bucket": "videosense-empty", "Key": "uploads/empty.mp4"}
    )

    # WHEN a reader that does not know the size is probed THEN it fails as an empty file
    with RangedHttpReader(url) as reader, pytest.raises(MediaProbeError, match=r"^empty file"):
        probe_stream(reader)


class FlakyFile(io.BytesIO):
    """An in-memory file whose first read at or past ``fail_at`` raises, like a dropped
    connection; later reads succeed (a fake, not a mock: it really serves the bytes)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__(data)
        self.fail_at = fail_at
        self.failed = False

    def read(self, size: int | None = -1, /) -> bytes:
        if not self.failed and self.tell() >= self.fail_at:
            self.failed = True
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)


@pytest.mark.parametrize("fraction", [pytest.param(f, id=f"fails-at-{f:.0%}") for f in (0.01, 0.3)])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("h264_aac.mp4", id="small-mp4"),
        pytest.param("large_moov_at_end.mp4", id="mp4-moov-at-end"),
        pytest.param("large_faststart.mp4", id="mp4-faststart"),
        pytest.param("large.mkv", id="mkv"),
        pytest.param("large.ts", id="mpeg-ts"),
    ],
)
def test_a_read_failure_anywhere_is_never_reported_as_a_bad_video(
    name: str, fraction: float, clips: Clips
) -> None:
    # GIVEN a good video behind a file object whose read fails once, somewhere in the file
    data = clips(name).read_bytes()
    flaky = FlakyFile(data, fail_at=int(len(data) * fraction))

    # WHEN it is probed
    try:
        probe_stream(flaky)
    except MediaProbeError as exc:
        pytest.fail(f"a transport error was blamed on the video: {exc}")
    except ConnectionResetError:
        # THEN either the reader's own error comes out (retry later) ...
        assert flaky.failed
    else:
        # ... or the probe never needed the bytes past the failure point
        assert not flaky.failed
