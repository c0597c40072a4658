"""Cheap media probing: the facts a video document needs, and proof the video decodes.

Probing opens the container, reads the stream headers and decodes at most the first video
frame. It never reads the whole file, so it works as well on a presigned URL (through
:class:`~videosense_shared.media_http.RangedHttpReader`) as on a local file.

Every problem *with the media* becomes a :class:`MediaProbeError` whose message is a short
readable reason that can go straight into a ``failed`` video document. Problems with the
*transport* (the HTTP request failed, the file cannot be opened) are not the video's fault and
stay ``OSError`` so that consumers retry them.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from videosense_shared.media_containers import (
    SNIFF_BYTES,
    SeekableBinary,
    iso_bmff_damage,
    sniff_container,
)
from videosense_shared.media_http import RangedHttpReader, RangeRequestError
from videosense_shared.messages import MediaFacts

__all__ = [
    "MAX_DIMENSION_PX",
    "MAX_DURATION_S",
    "MediaProbeError",
    "RangeRequestError",
    "RangedHttpReader",
    "SeekableBinary",
    "probe_file",
    "probe_stream",
    "probe_url",
]

MAX_DIMENSION_PX = 8192
"""Largest accepted width or height. Larger frames are decompression bombs more often than
videos (8K UHD is 7680x4320), and every later stage would have to hold them in memory."""

MAX_DURATION_S = 6 * 3600.0
"""Longest accepted duration: six hours bounds the cost any one upload can cause."""

MAX_PROBE_PACKETS = 64
"""Video packets demuxed, at most, while looking for the first decodable frame. A healthy
stream yields a frame within its first few packets (its first keyframe); a stream that has
not produced one after this many is broken."""

_EMPTY = "empty file (0 bytes)"


class MediaProbeError(Exception):
    """The file is not a video this pipeline can process.

    ``str(error)`` (also ``error.reason``) is one short readable line, meant for a ``failed``
    video document. It starts with ``"empty file"``, ``"not a video:"``, ``"no video
    stream"`` or ``"truncated or corrupt:"``, or names the exceeded limit (``"resolution
    9000x5000 exceeds the 8192 px limit"``, ``"duration 25200 s exceeds the 6 h limit"``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def probe_file(path: Path) -> MediaFacts:
    """Probe a local file.

    The file is read through a Python file object, exactly as a URL is, so a file probed
    locally yields the same facts (and the same errors) as the same object probed in S3.

    Raises:
        MediaProbeError: the file is empty, not a video, damaged, or over a limit.
        OSError: the file cannot be opened or read.
    """
    if path.stat().st_size == 0:
        # Decided without PyAV: FFmpeg's answer for an empty input is a misleading
        # "Invalid data found when processing input".
        raise MediaProbeError(_EMPTY)
    with path.open("rb") as reader:
        return probe_stream(reader)


def probe_url(url: str, size: int) -> MediaFacts:
    """Probe an object over HTTP (a presigned S3 ``GET`` URL), fetching only what is needed.

    Args:
        url: a URL that honours ``Range`` requests.
        size: the object's size in bytes, as the upload notification reported it.

    Raises:
        MediaProbeError: the object is empty, not a video, damaged, or over a limit.
        RangeRequestError: an HTTP request failed (an ``OSError``: transient, retry).
    """
    if size == 0:
        raise MediaProbeError(_EMPTY)
    with RangedHttpReader(url, size) as reader:
        return probe_stream(reader)


def probe_stream(reader: SeekableBinary) -> MediaFacts:
    """Probe a seekable binary file object positioned anywhere; the caller keeps it open.

    Raises:
        MediaProbeError: the content is empty, not a video, damaged, or over a limit.
        OSError: reading from ``reader`` failed at any point; the reader's own exception is
            raised even if FFmpeg swallowed it, since facts read around a failed read (or a
            "corrupt" verdict) cannot be trusted.
    """
    watched = _WatchedReader(reader)
    try:
        facts = _probe(watched)
    except MediaProbeError:
        if watched.error is not None:
            raise watched.error from None
        raise
    if watched.error is not None:
        raise watched.error
    return facts


class _WatchedReader:
    """Passes reads and seeks through, remembering the first ``OSError`` the reader raised.

    PyAV re-raises a file object's exception only when FFmpeg passes the failed read on as
    an error; a demuxer that takes it for the end of the file carries on, and when a second
    read fails PyAV drops the first exception ("PyAV library exception being dropped"). With
    the MP4, Matroska, WebM, MPEG-TS and AVI clips tried, the reader's error did come out;
    this guard keeps it so for every demuxer, because a network error mistaken for "no
    decodable video frame" would fail a good video for good.

    It also hides the wrapped file's ``name``: FFmpeg would take the file extension as a hint,
    and a local file must be probed exactly like the same object over HTTP.
    """

    def __init__(self, inner: SeekableBinary) -> None:
        self._inner = inner
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read(size)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        try:
            return self._inner.seek(offset, whence)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def tell(self) -> int:
        return self._inner.tell()


def _probe(reader: _WatchedReader) -> MediaFacts:
    size = reader.seek(0, io.SEEK_END)
    if size == 0:
        raise MediaProbeError(_EMPTY)
    reader.seek(0)
    family = sniff_container(reader.read(SNIFF_BYTES))
    if family == "mp4":
        damage = iso_bmff_damage(reader, size)
        if damage is not None:
            raise MediaProbeError(f"truncated or corrupt: {damage}")
    reader.seek(0)
    try:
        # metadata_errors="replace": a title tag in a legacy encoding must not reject a video.
        container = av.open(reader, mode="r", metadata_errors="replace")
    except av.error.FFmpegError as exc:
        said = _ffmpeg_said(exc)
        if family is None:
            raise MediaProbeError(f"not a video: {said}") from exc
        raise MediaProbeError(f"truncated or corrupt: {family} unreadable ({said})") from exc
    with container:
        try:
            return _facts(container)
        except av.error.FFmpegError as exc:
            raise MediaProbeError(f"truncated or corrupt: {_ffmpeg_said(exc)}") from exc


def _facts(container: InputContainer) -> MediaFacts:
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        # FFmpeg opens a PNG or JPEG as a one-frame "video"; it is not one.
        raise MediaProbeError(f"not a video: still image ({container.format.name})")
    stream = _main_video_stream(container)
    if stream is None:
        has_audio = bool(container.streams.audio)
        raise MediaProbeError("no video stream" + (" (audio only)" if has_audio else ""))
    context = stream.codec_context
    # Coded dimensions, deliberately not rotated by the display matrix: PyAV decodes frames
    # unrotated, so keyframe JPEGs, boxes in relative coordinates and these numbers all
    # describe the same pixel grid. A phone video shot upright reads as e.g. 1920x1080.
    width, height = context.width, context.height
    if width <= 0 or height <= 0:
        raise MediaProbeError("truncated or corrupt: the video stream has no dimensions")
    if width > MAX_DIMENSION_PX or height > MAX_DIMENSION_PX:
        # Checked before decoding anything: a huge frame is how a decompression bomb works.
        raise MediaProbeError(
            f"resolution {width}x{height} exceeds the {MAX_DIMENSION_PX} px limit"
        )

    stream_duration_s = (
        float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    )
    fps = _frame_rate(stream, stream_duration_s)
    duration_s = _duration(container, stream, stream_duration_s, fps)
    if duration_s > MAX_DURATION_S:
        raise MediaProbeError(
            f"duration {duration_s:.0f} s exceeds the {MAX_DURATION_S / 3600:g} h limit"
        )
    frame_count = stream.frames or round((stream_duration_s or duration_s) * fps)

    _decode_first_frame(container, stream)
    return MediaFacts(
        duration_s=duration_s,
        fps=fps,
        width=width,
        height=height,
        frame_count=frame_count,
        # The codec's canonical name ("h264", "vp9", "av1"), not the decoder's ("libdav1d").
        video_codec=stream.codec.canonical_name,
        has_audio=bool(container.streams.audio),
    )


def _main_video_stream(container: InputContainer) -> VideoStream | None:
    # Cover art (an MP3's or M4A's picture) is a one-frame video stream flagged attached_pic.
    candidates = [
        s for s in container.streams.video if not s.disposition & Disposition.attached_pic
    ]
    for stream in candidates:
        if stream.disposition & Disposition.default:
            return stream
    return candidates[0] if candidates else None


def _frame_rate(stream: VideoStream, stream_duration_s: float | None) -> float:
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    if stream.frames and stream_duration_s:
        return stream.frames / stream_duration_s
    raise MediaProbeError("truncated or corrupt: the video stream has no frame rate")


def _duration(
    container: InputContainer,
    stream: VideoStream,
    stream_duration_s: float | None,
    fps: float,
) -> float:
    # The container's duration (what a player shows) covers every stream; the video stream's
    # own is the fallback, then the frame count.
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    if stream_duration_s:
        return stream_duration_s
    if stream.frames:
        return stream.frames / fps
    raise MediaProbeError("truncated or corrupt: unknown duration")


def _decode_first_frame(container: InputContainer, stream: VideoStream) -> None:
    """Prove the video stream decodes by decoding its first frame (and nothing more)."""
    # Frame threading holds frames back until every thread has one: decode single-threaded
    # so the first packet's frame comes out at once.
    stream.codec_context.thread_count = 1
    last_error: av.error.FFmpegError | None = None
    for index, packet in enumerate(container.demux(stream)):
        if index >= MAX_PROBE_PACKETS:
            break
        try:
            # The last packet demux yields is empty: decoding it flushes the decoder.
            if packet.decode():
                return
        except av.error.FFmpegError as exc:
            # Tolerate a damaged packet or two (a capture that starts mid-GOP): only a stream
            # that yields no frame at all is rejected.
            last_error = exc
    detail = f" ({_ffmpeg_said(last_error)})" if last_error is not None else ""
    raise MediaProbeError(f"truncated or corrupt: no decodable video frame{detail}")


def _ffmpeg_said(exc: av.error.FFmpegError) -> str:
    """FFmpeg's own one-line reason, without errno, file name or log."""
    said = (exc.strerror or type(exc).__name__).strip().rstrip(".")
    return said[:120]
