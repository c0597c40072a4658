"""The H.264 encoders of a cut: the edge encoder, whose frames are spliced between copied GOPs,
and the whole-clip encoder of the re-encode fallback. Both run libx264 with the same quality
settings, so a clip looks the same whichever way it was cut."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
from av.codec.context import Flags
from av.video.frame import PictureType

from clipper.h264 import AvcConfig, pps_ids, split_annexb, sps_id
from clipper.source_index import SPLICEABLE_PROFILES, SourceIndex

OUTPUT_PIXEL_FORMAT = "yuv420p"


@dataclass(frozen=True)
class EncodeSettings:
    """libx264's speed/size trade-off and quality, and the AAC bit rate."""

    preset: str = "veryfast"
    crf: int = 18
    audio_bit_rate: int = 160_000


class SpliceError(Exception):
    """Re-encoded frames cannot be joined to this source's copied GOPs after all (the encoder's
    parameter sets changed, timestamps would go backwards); the cut falls back to a full
    re-encode."""


def prepare_frame(frame: av.VideoFrame, pts: int, time_base: Fraction) -> av.VideoFrame:
    """A decoded frame ready for an encoder: 8-bit 4:2:0, the output timestamp, and no picture
    type (a decoder's I/P/B would force the encoder's choices)."""
    out = (
        frame
        if frame.format.name == OUTPUT_PIXEL_FORMAT
        else frame.reformat(format=OUTPUT_PIXEL_FORMAT)
    )
    out.pts = pts
    out.time_base = time_base
    out.pict_type = PictureType.NONE
    return out


def _x264_options(settings: EncodeSettings) -> dict[str, str]:
    return {"preset": settings.preset, "crf": str(settings.crf)}


def edge_encoder(index: SourceIndex, settings: EncodeSettings) -> av.VideoCodecContext:
    """An open libx264 encoder whose output can sit between the source's own GOPs.

    It starts with an IDR picture, has no B-frames (so its frames decode in presentation order
    and end cleanly before the next copied IDR), matches the source's size and profile, and
    numbers its parameter sets with an id the source does not use, so that both sets live in
    the output's ``avcC`` (see :mod:`clipper.h264`).

    Raises:
        SpliceError: the source has no avcC or no free parameter-set id.
    """
    if index.avc is None or index.profile is None:
        raise SpliceError(index.splice_blocker or "the source cannot be spliced")
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width = index.width
    ctx.height = index.height
    ctx.pix_fmt = OUTPUT_PIXEL_FORMAT
    ctx.time_base = index.time_base
    ctx.framerate = index.frame_rate
    ctx.flags |= Flags.global_header  # parameter sets in extradata, not in the slices
    ctx.options = {
        **_x264_options(settings),
        "bf": "0",
        "profile": SPLICEABLE_PROFILES[index.profile],
        "x264-params": f"sps-id={index.avc.free_id()}",
    }
    ctx.open()
    return ctx


def spliced_config(index: SourceIndex, encoder: av.VideoCodecContext) -> AvcConfig:
    """The output's ``avcC``: the source's parameter sets and the edge encoder's.

    Raises:
        SpliceError: the encoder's parameter sets collide with the source's ids.
    """
    assert index.avc is not None
    nals = split_annexb(bytes(encoder.extradata or b""))
    sps = [n for n in nals if n[0] & 0x1F == 7]
    pps = [n for n in nals if n[0] & 0x1F == 8]
    if not sps or not pps:
        raise SpliceError("the edge encoder reported no parameter sets")
    taken = index.avc.used_ids()
    if {sps_id(n) for n in sps} & taken or {pps_ids(n)[0] for n in pps} & taken:
        raise SpliceError("the edge encoder's parameter-set ids collide with the source's")
    level = max(n[3] for n in sps)
    return index.avc.with_sets(sps, pps, level)


def full_encoder_options(settings: EncodeSettings) -> dict[str, str]:
    """libx264 options of the re-encode fallback (B-frames allowed: nothing is spliced)."""
    return _x264_options(settings)
