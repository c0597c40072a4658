"""Writing the redacted copy: the video re-encoded with H.264, every other stream copied.

One pass over the source's packets in file order: video packets are decoded, the frame's boxes
(from a :class:`~redactor.feed.BoxSource`: the render may run while the scan still finds them,
waiting for each frame's to be final) redacted (:mod:`redactor.effects`) and the frame encoded
with libx264 at the *same* timestamp
(the encoder's time base is the source stream's, so a variable frame rate stays variable and
the frame count cannot change); audio and subtitle packets are remuxed untouched (the sound is
bit-for-bit the source's). Container and stream metadata (language, title, creation time) and
the display rotation are carried over, so the copy plays upright exactly like the source.
Streams an MP4 cannot hold (a codec the muxer refuses, data and attachment streams) are left
out; a sound track that cannot be copied fails the redaction instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from redactor.effects import Style, redact_planes
from redactor.feed import BoxSource, PlannedBoxes
from redactor.tracking import PixelBox
from videosense_shared.logs import get_logger

log = get_logger(__name__)

# Codecs an MP4 takes as a stream copy (what ffmpeg's mp4 muxer accepts without -strict).
_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac", "mp2"})
_MP4_SUBTITLES = frozenset({"mov_text"})


class RenderError(Exception):
    """The source cannot be read, or the copy cannot be written; the message is readable."""


@dataclass(frozen=True)
class Encoding:
    """How the video stream is re-encoded."""

    crf: int = 20
    preset: str = "veryfast"
    threads: int = 0
    params: str = ""  # x264 options over the preset ("key=value:key=value")


@dataclass(frozen=True)
class Rendered:
    """What was written: frames encoded, frames with at least one box, streams copied."""

    frame_count: int
    frames_redacted: int
    copied_streams: tuple[str, ...]


def _writable(frame: av.VideoFrame) -> tuple[av.VideoFrame, list[npt.NDArray[np.uint8]]]:
    """The frame as 4:2:0 whose pixels are ours to change (the decoder may still refer to its
    own buffer: copied then), and views of its Y, U and V planes: boxes are redacted in place,
    with no copy of the whole picture to and from an array."""
    picture = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
    picture.make_writable()
    planes = []
    for plane in picture.planes:
        data = np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * plane.height)
        planes.append(data.reshape(plane.height, plane.line_size)[:, : plane.width])
    return picture, planes


def _copyable(stream: av.stream.Stream) -> bool:
    name = stream.codec_context.name if stream.codec_context is not None else ""
    if stream.type == "audio":
        return name in _MP4_AUDIO
    if stream.type == "subtitle":
        return name in _MP4_SUBTITLES
    return False


def _display_rotation(source: Path) -> int:
    """The display rotation of the source's first frame (the stream's display matrix)."""
    with av.open(str(source)) as src:
        for frame in src.decode(video=0):
            return round(frame.rotation / 90) % 4 * 90
    return 0


def render(
    source: Path,
    target: Path,
    boxes: BoxSource | Mapping[int, Sequence[PixelBox]],
    *,
    style: Style,
    strength: float,
    encoding: Encoding,
) -> Rendered:
    """Write ``target`` (MP4): ``source`` with ``boxes``' boxes of video frame ``i`` redacted
    on it (presentation order) and every copyable stream copied.

    Raises:
        RenderError: the source has no video stream or cannot be decoded, a sound track cannot
            be copied into MP4, or the encoder refuses the picture.
        redactor.feed.FeedAbortedError: the boxes of a frame will never come.
    """
    source_boxes = PlannedBoxes(boxes) if isinstance(boxes, Mapping) else boxes
    try:
        src = av.open(str(source))
    except av.FFmpegError as err:
        raise RenderError(f"the file cannot be opened as media: {err}") from err
    with src:
        if not src.streams.video:
            raise RenderError("the file has no video stream")
        video = src.streams.video[0]
        video.thread_type = "AUTO"
        try:
            rotation = _display_rotation(source)
        except av.FFmpegError as err:
            raise RenderError(f"the video cannot be decoded: {err}") from err
        width, height = video.codec_context.width, video.codec_context.height
        if width % 2 or height % 2:
            raise RenderError(f"odd picture size {width}x{height} cannot be encoded as 4:2:0 H.264")
        for stream in src.streams.audio:
            if not _copyable(stream):
                raise RenderError(
                    f"the sound track ({stream.codec_context.name}) cannot be copied into MP4 "
                    "untouched"
                )
        with av.open(str(target), "w", format="mp4") as out:
            out.metadata.update(src.metadata)
            options = {"crf": str(encoding.crf), "preset": encoding.preset}
            if encoding.threads:
                options["threads"] = str(encoding.threads)
            if encoding.params:
                options["x264-params"] = encoding.params
            encoder = out.add_stream("libx264", options=options)
            encoder.width, encoder.height = width, height
            encoder.pix_fmt = "yuv420p"
            time_base = video.time_base or Fraction(1, 90_000)
            encoder.time_base = time_base
            encoder.codec_context.time_base = time_base
            if video.average_rate:
                encoder.codec_context.framerate = video.average_rate
            encoder.metadata.update(video.metadata)
            if rotation:
                encoder.set_display_rotation(rotation)
            copies: dict[int, av.stream.Stream] = {}
            copied: list[str] = []
            for other in src.streams:
                if other.index != video.index and _copyable(other):
                    copy = out.add_stream_from_template(other)
                    copy.metadata.update(other.metadata)
                    copies[other.index] = copy
                    copied.append(f"{other.type}:{other.codec_context.name}")
            wanted = [video, *(s for s in src.streams if s.index in copies)]
            index = 0
            redacted = 0
            last_pts: int | None = None
            try:
                for packet in src.demux(wanted):
                    if packet.stream.index != video.index:
                        if packet.dts is None:
                            continue  # the demuxer's flush packet
                        packet.stream = copies[packet.stream.index]
                        out.mux(packet)
                        continue
                    for frame in packet.decode():
                        assert isinstance(frame, av.VideoFrame)  # a video stream's packet
                        frame_boxes = source_boxes.boxes(index)
                        encoded: av.VideoFrame
                        if frame_boxes:
                            encoded, planes = _writable(frame)
                            redact_planes(planes, frame_boxes, style, strength)
                            redacted += 1
                        elif frame.format.name == "yuv420p":
                            encoded = frame
                        else:
                            encoded = frame.reformat(format="yuv420p")
                        # The encoder chooses every frame's type: the source's I/P/B pattern is
                        # not a good one for the re-encoded picture.
                        encoded.pict_type = av.video.frame.PictureType.NONE
                        pts = frame.pts if frame.pts is not None else (last_pts or -1) + 1
                        encoded.pts = pts
                        encoded.time_base = time_base
                        last_pts = pts
                        out.mux(encoder.encode(encoded))
                        index += 1
                out.mux(encoder.encode(None))
            except av.FFmpegError as err:
                raise RenderError(f"the video cannot be redacted: {err}") from err
    log.info("redacted copy written", frames=index, redacted=redacted, copied=copied)
    return Rendered(frame_count=index, frames_redacted=redacted, copied_streams=tuple(copied))
