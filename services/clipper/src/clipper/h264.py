"""Just enough H.264 bitstream handling to splice re-encoded frames into a copied stream.

An MP4 track holds H.264 as length-prefixed NAL units with the parameter sets (SPS, PPS) in its
``avcC`` configuration record; an encoder emits Annex B (start codes). A smart cut joins copied
GOPs (which refer to the source's parameter sets) with re-encoded ones (which refer to the
encoder's). Both sets can live in one ``avcC`` as long as their ids differ, so the edges are
encoded with parameter-set ids the source does not use, and the output's ``avcC`` lists both
(docs/architecture.md, "The clipper").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8

_START_CODE = re.compile(b"\x00\x00\x01")
_MAX_PARAMETER_SET_ID = 31  # SPS ids are 0..31; PPS ids go to 255 but x264 ties both together


class H264Error(ValueError):
    """The bytes are not the H.264 structure they should be; the message says which."""


def nal_type(nal: bytes) -> int:
    """The ``nal_unit_type`` of one NAL unit (its header's low five bits)."""
    return nal[0] & 0x1F


def _unescape(rbsp: bytes) -> bytes:
    # Emulation prevention: 00 00 03 xx in the payload stands for 00 00 xx.
    return rbsp.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        byte, offset = divmod(self._pos, 8)
        if byte >= len(self._data):
            raise H264Error("parameter set ends too early")
        self._pos += 1
        return (self._data[byte] >> (7 - offset)) & 1

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise H264Error("malformed exp-Golomb code")
        value = 1
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return value - 1


def sps_id(sps: bytes) -> int:
    """``seq_parameter_set_id`` of an SPS NAL unit (header byte included).

    Raises:
        H264Error: not a well-formed SPS.
    """
    if len(sps) < 5 or nal_type(sps) != NAL_SPS:
        raise H264Error("not an SPS")
    return _Bits(_unescape(sps[4:])).ue()


def pps_ids(pps: bytes) -> tuple[int, int]:
    """``(pic_parameter_set_id, seq_parameter_set_id)`` of a PPS NAL unit.

    Raises:
        H264Error: not a well-formed PPS.
    """
    if len(pps) < 2 or nal_type(pps) != NAL_PPS:
        raise H264Error("not a PPS")
    bits = _Bits(_unescape(pps[1:]))
    return bits.ue(), bits.ue()


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start codes removed, trailing zeros dropped)."""
    starts = [m.end() for m in _START_CODE.finditer(data)]
    nals = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def split_length_prefixed(data: bytes, length_size: int) -> list[bytes]:
    """The NAL units of an MP4 sample (each prefixed with its big-endian length).

    Raises:
        H264Error: a length runs past the end of the sample.
    """
    nals = []
    pos = 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if pos + size > len(data):
            raise H264Error("a NAL unit's length runs past the end of the sample")
        nals.append(data[pos : pos + size])
        pos += size
    return nals


def join_length_prefixed(nals: list[bytes], length_size: int) -> bytes:
    """An MP4 sample of ``nals``, each prefixed with its length."""
    return b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in nals)


@dataclass(frozen=True)
class AvcConfig:
    """An ``AVCDecoderConfigurationRecord`` (the ``avcC`` box of an MP4 H.264 track)."""

    profile: int
    compatibility: int
    level: int
    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    # High profiles carry chroma format, bit depths and SPS extensions after the PPS list;
    # kept verbatim (they describe the stream, which the spliced frames must match anyway).
    trailer: bytes = b""

    @classmethod
    def parse(cls, record: bytes) -> AvcConfig:
        """Read an ``avcC`` record.

        Raises:
            H264Error: ``record`` is not one (e.g. Annex B extradata from an MPEG-TS source).
        """
        if len(record) < 7 or record[0] != 1:
            raise H264Error("the stream has no avcC configuration record")
        length_size = (record[4] & 0x03) + 1
        pos = 5
        sps, pos = _read_sets(record, pos, record[pos] & 0x1F, 1)
        pps, pos = _read_sets(record, pos, record[pos], 1)
        return cls(
            profile=record[1],
            compatibility=record[2],
            level=record[3],
            length_size=length_size,
            sps=sps,
            pps=pps,
            trailer=record[pos:],
        )

    def to_bytes(self) -> bytes:
        """The record, ready to be a track's extradata."""
        out = bytearray(
            [1, self.profile, self.compatibility, self.level, 0xFC | (self.length_size - 1)]
        )
        out.append(0xE0 | len(self.sps))
        for nal in self.sps:
            out += len(nal).to_bytes(2, "big") + nal
        out.append(len(self.pps))
        for nal in self.pps:
            out += len(nal).to_bytes(2, "big") + nal
        out += self.trailer
        return bytes(out)

    def used_ids(self) -> set[int]:
        """Every SPS and PPS id the record defines.

        Raises:
            H264Error: a parameter set is malformed.
        """
        return {sps_id(nal) for nal in self.sps} | {pps_ids(nal)[0] for nal in self.pps}

    def free_id(self) -> int:
        """The smallest id neither an SPS nor a PPS of the record uses.

        Raises:
            H264Error: every id is taken, or a parameter set is malformed.
        """
        used = self.used_ids()
        for candidate in range(1, _MAX_PARAMETER_SET_ID + 1):
            if candidate not in used:
                return candidate
        raise H264Error("the source uses every parameter set id")

    def with_sets(self, sps: list[bytes], pps: list[bytes], level: int) -> AvcConfig:
        """This record plus other parameter sets (not already listed), at the higher level."""
        return replace(
            self,
            sps=self.sps + tuple(s for s in sps if s not in self.sps),
            pps=self.pps + tuple(p for p in pps if p not in self.pps),
            level=max(self.level, level),
        )


def _read_sets(record: bytes, pos: int, count: int, skip: int) -> tuple[tuple[bytes, ...], int]:
    pos += skip
    sets = []
    for _ in range(count):
        if pos + 2 > len(record):
            raise H264Error("truncated avcC record")
        size = int.from_bytes(record[pos : pos + 2], "big")
        pos += 2
        if pos + size > len(record):
            raise H264Error("truncated avcC record")
        sets.append(record[pos : pos + size])
        pos += size
    return tuple(sets), pos
