"""What a smart cut needs to know about a source, read once by demuxing (no decoding): the
video packets in decode order, the frames in presentation order, the points where the stream
can be cut without re-encoding, and whether re-encoded frames can be spliced in at all."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av

from clipper.h264 import NAL_IDR, AvcConfig, H264Error, nal_type, split_length_prefixed

#: Pixel formats the edge encoder reproduces exactly (8-bit 4:2:0: what x264 encodes by default).
SPLICEABLE_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
#: Source profiles the edge encoder can be told to match.
SPLICEABLE_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline",
                       "Main": "main", "High": "high"}  # fmt: skip


class SourceError(Exception):
    """The source cannot be cut at all (not a video, no video stream, unreadable); ``reason``
    says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VideoPacket:
    """One video packet as demuxed: timestamps in the stream's time base, and whether the
    stream may be cut just before it (an IDR picture with no frame on either side reaching
    across it)."""

    pts: int
    dts: int
    idr: bool


@dataclass(frozen=True)
class AudioFacts:
    """The source's first audio stream."""

    sample_rate: int
    layout: str


@dataclass(frozen=True)
class SourceIndex:
    """Everything about a source the cut planner and the writer need."""

    path: Path
    time_base: Fraction
    packets: tuple[VideoPacket, ...]  # decode order
    frames: tuple[int, ...]  # presentation timestamps, ascending
    end_pts: int  # where the last frame ends
    cut_points: tuple[int, ...]  # decode indexes where a copy may start or end, ascending
    reorder_delay: int  # the largest pts - dts: how far decode runs ahead of presentation
    width: int
    height: int
    pix_fmt: str
    codec: str
    profile: str | None
    frame_rate: Fraction
    rotation: int
    audio: AudioFacts | None
    avc: AvcConfig | None  # the source's avcC when frames can be spliced into it
    splice_blocker: str | None  # why re-encoded frames cannot be spliced in, if they cannot

    @property
    def duration_s(self) -> float:
        """Where the last frame ends, in seconds from the stream's time zero."""
        return float(self.end_pts * self.time_base)

    def seconds(self, pts: int) -> float:
        """A presentation timestamp in seconds."""
        return float(pts * self.time_base)

    def pts_at(self, seconds: float) -> int:
        """The timestamp of ``seconds`` in the stream's time base (rounded to the nearest)."""
        return round(Fraction(seconds) / self.time_base)

    def frame_index(self, pts: int) -> int:
        """Index of the first frame presented at or after ``pts``."""
        return bisect.bisect_left(self.frames, pts)

    def cut_point_pts(self, decode_index: int) -> int:
        """Presentation timestamp at a cut point (``len(packets)``: the end of the stream)."""
        if decode_index == len(self.packets):
            return self.end_pts
        return self.packets[decode_index].pts


def _is_idr(sample: bytes, length_size: int) -> bool:
    try:
        return any(nal_type(nal) == NAL_IDR for nal in split_length_prefixed(sample, length_size))
    except H264Error:
        return False


def _splice_config(stream: av.video.stream.VideoStream) -> tuple[AvcConfig | None, str | None]:
    ctx = stream.codec_context
    if ctx.name != "h264":
        return None, f"the video is {ctx.name}, and only H.264 can be spliced"
    if ctx.pix_fmt not in SPLICEABLE_PIXEL_FORMATS:
        return None, f"the H.264 pixel format {ctx.pix_fmt} is not 8-bit 4:2:0"
    if ctx.profile not in SPLICEABLE_PROFILES:
        return None, f"the H.264 profile {ctx.profile} cannot be matched by the edge encoder"
    try:
        avc = AvcConfig.parse(bytes(ctx.extradata or b""))
        avc.free_id()
    except H264Error as err:
        return None, f"the H.264 stream cannot be spliced: {err}"
    return avc, None


def _cut_points(packets: list[VideoPacket]) -> list[int]:
    # A copy may start at packet d (and the previous copy end there) when d is an IDR picture,
    # every packet decoded before it is presented before it and none decoded after it is
    # presented before it (a closed GOP: no frame on one side refers across it).
    count = len(packets)
    suffix_min = [0] * (count + 1)
    running = None
    for i in range(count - 1, -1, -1):
        pts = packets[i].pts
        running = pts if running is None else min(running, pts)
        suffix_min[i] = running
    points = []
    prefix_max: int | None = None
    for i, packet in enumerate(packets):
        if (
            packet.idr
            and (prefix_max is None or prefix_max < packet.pts)
            and suffix_min[i] == packet.pts
        ):
            points.append(i)
        prefix_max = packet.pts if prefix_max is None else max(prefix_max, packet.pts)
    points.append(count)  # the end of the stream closes the last GOP
    return points


def _first_rotation(path: Path) -> int:
    # The display matrix reaches decoded frames as side data; the first frame tells.
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return int(frame.rotation)
    return 0


def index_source(path: Path) -> SourceIndex:
    """Demux ``path``'s first video stream and index it.

    Raises:
        SourceError: not a readable media file, no video stream, or no frames.
    """
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise SourceError(f"not a readable video: {err}") from err
    with container:
        if not container.streams.video:
            raise SourceError("the file has no video stream")
        stream = container.streams.video[0]
        audio = None
        if container.streams.audio:
            actx = container.streams.audio[0].codec_context
            audio = AudioFacts(sample_rate=actx.sample_rate, layout=actx.layout.name)
        avc, blocker = _splice_config(stream)
        length_size = avc.length_size if avc else 4
        packets: list[VideoPacket] = []
        last_end = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                dts = packet.dts if packet.dts is not None else packet.pts
                idr = (
                    bool(packet.is_keyframe)
                    and avc is not None
                    and _is_idr(bytes(packet), length_size)
                )
                packets.append(VideoPacket(packet.pts, dts, idr))
                last_end = max(last_end, packet.pts + (packet.duration or 0))
        except av.FFmpegError as err:
            raise SourceError(f"the video cannot be read: {err}") from err
        if not packets:
            raise SourceError("the video stream has no frames")
        frames = sorted(p.pts for p in packets)
        if last_end <= frames[-1]:
            last_end = frames[-1] + (frames[-1] - frames[-2] if len(frames) > 1 else 1)
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        index = SourceIndex(
            path=path,
            time_base=stream.time_base or Fraction(1, 90_000),
            packets=tuple(packets),
            frames=tuple(frames),
            end_pts=last_end,
            cut_points=tuple(_cut_points(packets)),
            reorder_delay=max(0, *(p.pts - p.dts for p in packets)),
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.pix_fmt or "",
            codec=ctx.name,
            profile=ctx.profile,
            frame_rate=Fraction(rate),
            rotation=0,
            audio=audio,
            avc=avc,
            splice_blocker=blocker,
        )
    return replace(index, rotation=_first_rotation(path))
