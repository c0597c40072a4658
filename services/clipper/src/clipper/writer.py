"""Writing one output file from planned ranges: copied GOPs and re-encoded edges spliced into
one H.264 stream (smart cut), or every frame re-encoded (the fallback), with the AAC audio of
the same ranges, faststart, the source's rotation and, for a supercut, a chapter per range.

The file is written under a temporary name next to its destination and renamed only once it is
complete, so a failure never leaves a partial clip behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from clipper.audio import AudioTrack
from clipper.encoding import (
    EncodeSettings,
    SpliceError,
    edge_encoder,
    full_encoder_options,
    prepare_frame,
    spliced_config,
)
from clipper.h264 import join_length_prefixed, split_annexb
from clipper.plan import RangePlan
from clipper.source_index import SourceIndex, VideoPacket

_MP4_OPTIONS = {"movflags": "+faststart"}


@dataclass(frozen=True)
class WrittenRange:
    """Where one range landed in the output and how its video was made."""

    plan: RangePlan
    output_start_s: float
    output_end_s: float
    copied_frames: int
    reencoded_frames: int


def temporary_name(dest: Path) -> Path:
    """The name a file is written under until it is complete (hidden, same directory, so the
    final rename is atomic)."""
    return dest.with_name(f".{dest.name}.part")


class _Muxer:
    """The output container and the bookkeeping shared by both ways of cutting."""

    def __init__(self, index: SourceIndex, path: Path, settings: EncodeSettings) -> None:
        self.index = index
        self.out = av.open(str(path), "w", format="mp4", options=_MP4_OPTIONS)
        self.audio: AudioTrack | None = None
        self._audio_queue: list[av.Packet[Any]] = []
        self._settings = settings

    def add_audio(self) -> None:
        facts = self.index.audio
        if facts is None:
            return
        stream = self.out.add_stream("aac", rate=facts.sample_rate, layout=facts.layout)
        stream.bit_rate = self._settings.audio_bit_rate
        self.audio = AudioTrack(stream, facts)

    def queue_audio(self, start_s: float, output_end_s: float) -> None:
        if self.audio is not None:
            self._audio_queue += self.audio.add(self.index.path, start_s, output_end_s)

    def mux_audio_until(self, output_s: float | None) -> None:
        # Audio goes in as video reaches its time, so the file stays interleaved.
        while self._audio_queue:
            packet = self._audio_queue[0]
            if (
                output_s is not None
                and packet.pts is not None
                and packet.time_base is not None
                and packet.pts * packet.time_base > output_s
            ):
                return
            self.out.mux(self._audio_queue.pop(0))

    def finish_audio(self) -> None:
        if self.audio is not None:
            self._audio_queue += self.audio.finish()
        self.mux_audio_until(None)


def _decode_span(
    container: av.container.InputContainer, start: int, end: int
) -> Iterator[tuple[int, av.VideoFrame]]:
    """The source frames presented in ``[start, end)``, with their pts (in the stream's time
    base)."""
    if end <= start:
        return
    stream = container.streams.video[0]
    container.seek(start, stream=stream, backward=True)
    for packet in container.demux(stream):
        for frame in stream.decode(packet):
            if frame.pts is None or frame.pts < start:
                continue
            if frame.pts >= end:
                return
            yield frame.pts, frame


def _copy_run(
    container: av.container.InputContainer, index: SourceIndex, first: int, last: int
) -> Iterator[tuple[av.Packet[Any], VideoPacket]]:
    """The source's packets at decode indexes ``[first, last)``, as demuxed, each with its
    entry in the index.

    Raises:
        SpliceError: the demuxer did not return the packets the index listed.
    """
    stream = container.streams.video[0]
    expected = index.packets[first:last]
    container.seek(expected[0].pts, stream=stream, backward=True)
    position = 0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        if position == 0 and (packet.pts, packet.dts) != (expected[0].pts, expected[0].dts):
            continue  # before the run's IDR picture
        want = expected[position]
        if (packet.pts, packet.dts) != (want.pts, want.dts):
            raise SpliceError("the source's packets changed between indexing and copying")
        yield packet, want
        position += 1
        if position == len(expected):
            return
    raise SpliceError("the source ended before the copied GOPs did")


class _Splicer:
    """Video of a smart cut: each range's whole GOPs copied, its edges re-encoded."""

    def __init__(self, muxer: _Muxer, settings: EncodeSettings, source_stream: av.VideoStream):
        self._muxer = muxer
        self._settings = settings
        index = muxer.index
        probe = edge_encoder(index, settings)
        self._config = spliced_config(index, probe)
        self._edge_extradata = bytes(probe.extradata or b"")
        self.stream = muxer.out.add_stream_from_template(source_stream)
        self.stream.codec_context.extradata = self._config.to_bytes()
        self._last_dts: int | None = None

    def _mux(self, packet: av.Packet[Any], pts: int, dts: int) -> None:
        if self._last_dts is not None and dts <= self._last_dts:
            raise SpliceError("spliced timestamps would not increase")
        if dts > pts:
            raise SpliceError("a spliced packet would decode after it is shown")
        self._last_dts = dts
        packet.pts = pts
        packet.dts = dts
        packet.time_base = self._muxer.index.time_base
        packet.stream = self.stream
        self._muxer.mux_audio_until(float(pts * self._muxer.index.time_base))
        self._muxer.out.mux(packet)

    def encode(
        self, container: av.container.InputContainer, span: tuple[int, int], shift: int
    ) -> int:
        """Re-encode the frames of ``span`` (output pts = source pts + ``shift``); returns how
        many frames were encoded."""
        index = self._muxer.index
        encoder = edge_encoder(index, self._settings)
        if bytes(encoder.extradata or b"") != self._edge_extradata:
            raise SpliceError("the edge encoder's parameter sets changed between runs")
        delay = index.reorder_delay
        count = 0

        def mux_all(packets: list[av.Packet[Any]]) -> None:
            for packet in packets:
                data = join_length_prefixed(
                    [n for n in split_annexb(bytes(packet)) if n[0] & 0x1F not in (7, 8)],
                    self._config.length_size,
                )
                out = av.Packet(data)
                out.is_keyframe = packet.is_keyframe
                if packet.pts is None:
                    raise SpliceError("the edge encoder returned a packet without a timestamp")
                pts = packet.pts + shift
                dts = pts - delay
                if self._last_dts is not None and dts <= self._last_dts:
                    dts = self._last_dts + 1
                self._mux(out, pts, dts)

        for pts, frame in _decode_span(container, *span):
            mux_all(list(encoder.encode(prepare_frame(frame, pts, index.time_base))))
            count += 1
        mux_all(list(encoder.encode(None)))
        return count

    def copy(self, container: av.container.InputContainer, run: tuple[int, int], shift: int) -> int:
        """Copy the packets of ``run`` (decode indexes); returns how many."""
        count = 0
        for packet, entry in _copy_run(container, self._muxer.index, *run):
            self._mux(packet, entry.pts + shift, entry.dts + shift)
            count += 1
        return count


def _chapters(written: Sequence[WrittenRange], time_base: Fraction) -> list[av.container.Chapter]:
    return [
        {
            "id": i + 1,
            "start": round(Fraction(w.output_start_s) / time_base),
            "end": round(Fraction(w.output_end_s) / time_base),
            "time_base": time_base,
            "metadata": {"title": f"{i + 1}: {w.plan.requested.label()} s"},
        }
        for i, w in enumerate(written)
    ]


def write_clip(
    index: SourceIndex,
    plans: Sequence[RangePlan],
    dest: Path,
    settings: EncodeSettings,
    *,
    chapters: bool = False,
) -> list[WrittenRange]:
    """Write ``plans`` back to back into the MP4 ``dest``: ranges with a copy run are smart
    cut, the others re-encoded; ``chapters`` marks each range as a chapter.

    Raises:
        SpliceError: the copied and re-encoded frames cannot be joined (the caller re-plans
            without copies and tries again).
        av.FFmpegError: decoding, encoding or writing failed.
        OSError: the file cannot be written.
    """
    spliced = any(plan.copy is not None for plan in plans)
    part = temporary_name(dest)
    try:
        written = _write(index, plans, part, settings, spliced=spliced, chapters=chapters)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    return written


def _write(
    index: SourceIndex,
    plans: Sequence[RangePlan],
    path: Path,
    settings: EncodeSettings,
    *,
    spliced: bool,
    chapters: bool,
) -> list[WrittenRange]:
    tb = index.time_base
    written: list[WrittenRange] = []
    base = 0
    for plan in plans:
        length = plan.end_pts - plan.first_pts
        written.append(
            WrittenRange(
                plan=plan,
                output_start_s=float(base * tb),
                output_end_s=float((base + length) * tb),
                copied_frames=0,
                reencoded_frames=0,
            )
        )
        base += length
    with av.open(str(index.path)) as source:
        muxer = _Muxer(index, path, settings)
        try:
            source_stream = source.streams.video[0]
            splicer: _Splicer | None = None
            encoder: av.VideoStream | None = None
            if spliced:
                splicer = _Splicer(muxer, settings, source_stream)
                video = splicer.stream
            else:
                encoder = muxer.out.add_stream("libx264", rate=index.frame_rate)
                encoder.width, encoder.height = index.width, index.height
                encoder.pix_fmt = "yuv420p"
                encoder.time_base = tb
                encoder.codec_context.time_base = tb
                encoder.codec_context.options = full_encoder_options(settings)
                video = encoder
            if index.rotation:
                video.set_display_rotation(index.rotation)
            muxer.add_audio()
            if chapters:
                muxer.out.set_chapters(_chapters(written, tb))
            done: list[WrittenRange] = []
            for item in written:
                plan = item.plan
                shift = round(Fraction(item.output_start_s) / tb) - plan.first_pts
                muxer.queue_audio(index.seconds(plan.first_pts), item.output_end_s)
                copied = encoded = 0
                if splicer is not None:
                    encoded += splicer.encode(source, plan.head, shift)
                    if plan.copy is not None:
                        copied += splicer.copy(source, plan.copy, shift)
                    encoded += splicer.encode(source, plan.tail, shift)
                else:
                    assert encoder is not None
                    for pts, frame in _decode_span(source, plan.first_pts, plan.end_pts):
                        for packet in encoder.encode(prepare_frame(frame, pts + shift, tb)):
                            muxer.mux_audio_until(_seconds(packet))
                            muxer.out.mux(packet)
                        encoded += 1
                done.append(
                    WrittenRange(
                        plan=plan,
                        output_start_s=item.output_start_s,
                        output_end_s=item.output_end_s,
                        copied_frames=copied,
                        reencoded_frames=encoded,
                    )
                )
            if encoder is not None:
                for packet in encoder.encode(None):
                    muxer.mux_audio_until(_seconds(packet))
                    muxer.out.mux(packet)
            muxer.finish_audio()
        finally:
            muxer.out.close()
    return done


def _seconds(packet: av.Packet[Any]) -> float | None:
    if packet.dts is None or packet.time_base is None:
        return None
    return float(packet.dts * packet.time_base)
