"""Cheap media probing: the facts a video document needs, and proof the video decodes.

Probing opens the container, reads the stream headers and decodes at most the first video
frame (or audio frame). It never reads the whole file, so it works as well on a presigned URL
(through :class:`~videosense_shared.media_http.RangedHttpReader`) as on a local file.

A file with audio and no video (mp3, wav, flac, m4a, a song with cover art) is accepted: its
facts have no frames (size, rate and frame count 0, no video codec) and it gets a transcript,
while the frame stages skip it.

Every problem *with the media* becomes a :class:`MediaProbeError` whose message is a short
readable reason that can go straight into a ``failed`` video document. Problems with the
*transport* (the HTTP request failed, the file cannot be opened) are not the video's fault and
stay ``OSError`` so that consumers retry them.

Why this lives in ``shared`` although only ingest probes: the decode limits are a contract
between the stage that accepts a video and every stage that decodes it. Ingest refuses what
:class:`ProbeLimits` refuses, and the frame extractor decodes under the same
:func:`decoder_max_pixels` and :func:`frame_size_error`, so a video ingest accepted is one the
decoders accept too. More services decode (the transcriber's audio today, redaction and
clipping to come): a service that decodes video frames applies the same limits, so they stay
here, beside the probe that enforces them first, rather than inside ingest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
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
    "DEFAULT_MAX_DURATION_S",
    "DEFAULT_MAX_FRAME_PIXELS",
    "MediaProbeError",
    "ProbeLimits",
    "RangeRequestError",
    "RangedHttpReader",
    "SeekableBinary",
    "declared_frame_size",
    "decoder_max_pixels",
    "describe_duration",
    "frame_size_error",
    "probe_file",
    "probe_stream",
    "probe_url",
]

DEFAULT_MAX_FRAME_PIXELS = 8192 * 4320
"""Largest accepted frame, in pixels: DCI 8K (8192x4320, 35.4 Mpx), which also admits 8K UHD
(7680x4320) in either orientation. The frame extractor holds up to about 30 decoded frames at
once (decoder references and threads, the cut detector's look-ahead, the keyframe candidates);
at 1.5 bytes per pixel (YUV 4:2:0, 53 MB a frame here) that bounds it near 1.6 GB, within its
2 GB task (a 40-frame 8192x4320 H.264 clip peaked at 1.06 GB with two decoder threads). A
larger frame is a decompression bomb more often than a video. FFmpeg itself refuses frames
over about 268 Mpx (16384x16384 is already too large for it)."""

DEFAULT_MAX_DURATION_S = 6 * 3600.0
"""Longest accepted duration: six hours bounds the cost any one upload can cause (the frame
extractor decodes every frame, the transcriber hears every second)."""

MAX_PROBE_PACKETS = 64
"""Video packets demuxed, at most, while looking for the first decodable frame. A healthy
stream yields a frame within its first few packets (its first keyframe); a stream that has
not produced one after this many is broken."""

_EMPTY = "empty file (0 bytes)"


@dataclass(frozen=True)
class ProbeLimits:
    """What the probe accepts, and the settings that change it (named in the reasons).

    The defaults are ingest's defaults: ingest is where uploads are probed.
    """

    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    frame_pixels_setting: str = "VIDEOSENSE_INGEST_MAX_FRAME_PIXELS"
    duration_setting: str = "VIDEOSENSE_INGEST_MAX_DURATION_S"


class MediaProbeError(Exception):
    """The file is not media this pipeline can process (a video, or audio alone).

    ``str(error)`` (also ``error.reason``) is one short readable line, meant for a ``failed``
    video document. It starts with ``"empty file"``, ``"not a video:"``, ``"no video
    stream"`` (nor audio) or ``"truncated or corrupt:"``, or names the exceeded limit and the
    setting that changes it (``"frame size 16384x16384 (268.4 Mpx) exceeds the limit of 35.4
    Mpx per frame (VIDEOSENSE_INGEST_MAX_FRAME_PIXELS)"``, ``"duration 10:00:00 exceeds the
    limit of 6:00:00 (VIDEOSENSE_INGEST_MAX_DURATION_S)"``).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pixels(count: int) -> str:
    return f"{count / 1e6:.1f} Mpx" if count >= 100_000 else f"{count} px"


def frame_size_error(width: int, height: int, limit: int, setting: str) -> str:
    """The reason given for a frame over the pixel limit, naming the setting that changes it.

    Shared with the frame extractor, which checks the limit again as it decodes.
    """
    return (
        f"frame size {width}x{height} ({_pixels(width * height)}) exceeds the limit of "
        f"{_pixels(limit)} per frame ({setting})"
    )


def decoder_max_pixels(limit: int) -> int:
    """FFmpeg's ``max_pixels`` option for a frame limit of ``limit`` pixels.

    FFmpeg counts the frame as allocated: coded sizes rounded up to whole macroblocks and
    strides to 64 bytes, so a 160x120 H.264 frame counts as at least 160x128. Twice the limit
    (and a megapixel) leaves room for that padding, so the exact, readable limit is the
    caller's own check on the dimensions, while the decoder still refuses to allocate a frame
    far over it (a decompression bomb behind a header that lies).
    """
    return 2 * limit + (1 << 20)


def describe_duration(seconds: float) -> str:
    """``H:MM:SS`` (rounded down to the second), e.g. ``10:00:00``."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def probe_file(path: Path, limits: ProbeLimits | None = None) -> MediaFacts:
    """Probe a local file (``limits``: the defaults of :class:`ProbeLimits` unless given).

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
        return probe_stream(reader, limits)


def probe_url(url: str, size: int, limits: ProbeLimits | None = None) -> MediaFacts:
    """Probe an object over HTTP (a presigned S3 ``GET`` URL), fetching only what is needed.

    Args:
        url: a URL that honours ``Range`` requests.
        size: the object's size in bytes, as the upload notification reported it.
        limits: what is accepted (the defaults of :class:`ProbeLimits` unless given).

    Raises:
        MediaProbeError: the object is empty, not a video, damaged, or over a limit.
        RangeRequestError: an HTTP request failed (an ``OSError``: transient, retry).
    """
    if size == 0:
        raise MediaProbeError(_EMPTY)
    with RangedHttpReader(url, size) as reader:
        return probe_stream(reader, limits)


def probe_stream(reader: SeekableBinary, limits: ProbeLimits | None = None) -> MediaFacts:
    """Probe a seekable binary file object positioned anywhere; the caller keeps it open.

    ``limits``: what is accepted (the defaults of :class:`ProbeLimits` unless given).

    Raises:
        MediaProbeError: the content is empty, not a video, damaged, or over a limit.
        OSError: reading from ``reader`` failed at any point; the reader's own exception is
            raised even if FFmpeg swallowed it, since facts read around a failed read (or a
            "corrupt" verdict) cannot be trusted.
    """
    watched = _WatchedReader(reader)
    try:
        facts = _probe(watched, limits or ProbeLimits())
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


def _probe(reader: _WatchedReader, limits: ProbeLimits) -> MediaFacts:
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
        # max_pixels reaches the decoders that stream discovery opens: a frame over the limit
        # is refused by FFmpeg before it is allocated, not after (a decompression bomb).
        container = av.open(
            reader,
            mode="r",
            metadata_errors="replace",
            options={"max_pixels": str(decoder_max_pixels(limits.max_frame_pixels))},
        )
    except av.error.FFmpegError as exc:
        said = _ffmpeg_said(exc)
        if family is None:
            raise MediaProbeError(f"not a video: {said}") from exc
        raise MediaProbeError(f"truncated or corrupt: {family} unreadable ({said})") from exc
    with container:
        try:
            return _facts(container, reader, limits)
        except av.error.FFmpegError as exc:
            raise MediaProbeError(f"truncated or corrupt: {_ffmpeg_said(exc)}") from exc


def _facts(container: InputContainer, reader: _WatchedReader, limits: ProbeLimits) -> MediaFacts:
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        # FFmpeg opens a PNG or JPEG as a one-frame "video"; it is not one.
        raise MediaProbeError(f"not a video: still image ({container.format.name})")
    stream = _main_video_stream(container)
    if stream is None:
        if container.streams.audio:
            # An audio-only upload (a song, a podcast, a recording): it gets a transcript; the
            # frame stages have nothing to look at and end skipped.
            return _audio_facts(container, limits)
        raise MediaProbeError("no video stream")
    context = stream.codec_context
    # Coded dimensions, deliberately not rotated by the display matrix: PyAV decodes frames
    # unrotated, so keyframe JPEGs, boxes in relative coordinates and these numbers all
    # describe the same pixel grid. A phone video shot upright reads as e.g. 1920x1080.
    width, height = context.width, context.height
    if width <= 0 or height <= 0:
        # A decoder that refused the frame size (ours or FFmpeg's own) leaves no dimensions.
        declared = declared_frame_size(reader, stream.index)
        if declared is not None and declared[0] * declared[1] > limits.max_frame_pixels:
            width, height = declared
        else:
            raise MediaProbeError("truncated or corrupt: the video stream has no dimensions")
    if width * height > limits.max_frame_pixels:
        # Checked before decoding anything: a huge frame is how a decompression bomb works.
        raise MediaProbeError(
            frame_size_error(width, height, limits.max_frame_pixels, limits.frame_pixels_setting)
        )

    stream_duration_s = (
        float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    )
    fps = _frame_rate(stream, stream_duration_s)
    duration_s = _duration(container, stream, stream_duration_s, fps)
    if duration_s > limits.max_duration_s:
        raise MediaProbeError(
            f"duration {describe_duration(duration_s)} exceeds the limit of "
            f"{describe_duration(limits.max_duration_s)} ({limits.duration_setting})"
        )
    frame_count = stream.frames or round((stream_duration_s or duration_s) * fps)

    _decode_first_frame(container, stream, limits.max_frame_pixels)
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


def _audio_facts(container: InputContainer, limits: ProbeLimits) -> MediaFacts:
    """The facts of a file with audio and no video: no frames, no size, no video codec."""
    audio = container.streams.audio[0]
    if container.duration and container.duration > 0:
        duration_s = container.duration / av.time_base
    elif audio.duration and audio.time_base:
        duration_s = float(audio.duration * audio.time_base)
    else:
        raise MediaProbeError("truncated or corrupt: unknown duration")
    if duration_s > limits.max_duration_s:
        raise MediaProbeError(
            f"duration {describe_duration(duration_s)} exceeds the limit of "
            f"{describe_duration(limits.max_duration_s)} ({limits.duration_setting})"
        )
    _decode_first_audio_frame(container, audio.index)
    return MediaFacts(
        duration_s=duration_s,
        fps=0.0,
        width=0,
        height=0,
        frame_count=0,
        video_codec="",
        has_audio=True,
    )


def _decode_first_audio_frame(container: InputContainer, index: int) -> None:
    """Prove the audio decodes by decoding its first frame (and nothing more)."""
    stream = container.streams[index]
    last_error: av.error.FFmpegError | None = None
    for count, packet in enumerate(container.demux(stream)):
        if count >= MAX_PROBE_PACKETS:
            break
        try:
            if packet.decode():
                return
        except av.error.FFmpegError as exc:
            last_error = exc
    detail = f" ({_ffmpeg_said(last_error)})" if last_error is not None else ""
    raise MediaProbeError(f"truncated or corrupt: no decodable audio frame{detail}")


def declared_frame_size(source: str | SeekableBinary, index: int) -> tuple[int, int] | None:
    """The frame size a container header declares for stream ``index``, decoding nothing.

    ``source`` is a path or a seekable binary file object (read from its start). Stream
    discovery decodes a frame when the header leaves something out (a PNG's pixel format),
    and a decoder that refuses the frame size (over ``max_pixels``, or over FFmpeg's own limit
    of about 268 Mpx) leaves the stream with no dimensions; with no decoder allowed
    (``codec_whitelist``) the header's own numbers stay. ``None`` when the header has none or
    cannot be read this way.
    """
    if not isinstance(source, str):
        source.seek(0)
    try:
        with av.open(
            source,
            mode="r",
            metadata_errors="replace",
            container_options={"codec_whitelist": "none"},
        ) as bare:
            stream = bare.streams[index] if index < len(bare.streams) else None
            if not isinstance(stream, VideoStream) or stream.codec_context is None:
                return None
            width, height = stream.codec_context.width, stream.codec_context.height
            return (width, height) if width > 0 and height > 0 else None
    except (av.error.FFmpegError, OSError):
        return None


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


def _decode_first_frame(container: InputContainer, stream: VideoStream, max_pixels: int) -> None:
    """Prove the video stream decodes by decoding its first frame (and nothing more)."""
    # Frame threading holds frames back until every thread has one: decode single-threaded
    # so the first packet's frame comes out at once.
    stream.codec_context.thread_count = 1
    # The header may lie about the size: the decoder itself refuses a frame over the limit.
    stream.codec_context.options = {"max_pixels": str(decoder_max_pixels(max_pixels))}
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
