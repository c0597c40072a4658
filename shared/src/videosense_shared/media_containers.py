"""What a file's first bytes say about its container, without FFmpeg.

FFmpeg answers "Invalid data found when processing input" both for a text file named
``.mp4`` and for an MP4 whose upload stopped half way. Its log says more ("moov atom not
found"), but PyAV only forwards FFmpeg's log when logging is switched on process-wide, which
PyAV disables by default because its log callback can deadlock and contend in threaded decoding
(PyAV issues #751, #2276). So the probe tells the two cases apart itself: a known container
signature means "a video, but damaged"; none means "not a video". For ISO BMFF (MP4/MOV), the
container of nearly every upload, a walk over the top-level boxes finds the usual damage
precisely: no ``moov`` box, or a box that runs past the end of the file.
"""

from __future__ import annotations

from typing import Protocol

SNIFF_BYTES = 1024
"""How many leading bytes :func:`sniff_container` wants (enough for three MPEG-TS packets)."""

MAX_TOP_LEVEL_BOXES = 64
"""Boxes walked before giving up without a verdict. A plain MP4 has 3 to 6 top-level boxes; a
fragmented one has two per fragment, and walking thousands of them over HTTP would fetch most
of the file, which is exactly what probing must not do."""

_ISO_BMFF_FIRST_BOXES = frozenset(
    {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
)
_TS_PACKET = 188


class SeekableBinary(Protocol):
    """The part of a binary file object the probe needs."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


def sniff_container(head: bytes) -> str | None:
    """Name the container family whose signature starts ``head``, or ``None``.

    Only families a video upload plausibly uses are listed; the name is for messages.
    """
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_FIRST_BOXES:
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska/webm"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg-ps"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf/wmv"
    if len(head) > 2 * _TS_PACKET and all(
        head[i] == 0x47 for i in range(0, 3 * _TS_PACKET, _TS_PACKET)
    ):
        return "mpeg-ts"
    return None


def iso_bmff_damage(reader: SeekableBinary, size: int) -> str | None:
    """Walk the top-level boxes of an ISO BMFF file; describe the damage found, or ``None``.

    ``None`` also when the walk stops early (more than :data:`MAX_TOP_LEVEL_BOXES` boxes):
    this is a cheap check for the common failures, not a validator. Leaves the position
    anywhere.
    """
    offset = 0
    seen: set[bytes] = set()
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset == size:
            break
        reader.seek(offset)
        header = reader.read(16)
        if len(header) < 8:
            return f"mp4 ends inside a box header at byte {offset}"
        box_size = int.from_bytes(header[:4], "big")
        box_type = header[4:8]
        # Box types are four printable characters; garbage must not reach a message raw.
        name = "".join(c if c.isprintable() else "?" for c in box_type.decode("latin-1"))
        if box_size == 1:  # a 64-bit "largesize" follows the type
            if len(header) < 16:
                return f"mp4 ends inside the header of box '{name}'"
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:  # the box extends to the end of the file
            box_size = size - offset
        if box_size < 8:
            return f"mp4 box '{name}' at byte {offset} has an impossible size {box_size}"
        if offset + box_size > size:
            # The moov box usually follows mdat: saying it is gone explains an unplayable file.
            lost = "" if b"moov" in seen else " (and no moov atom)"
            return (
                f"mp4 box '{name}' needs {offset + box_size} bytes "
                f"but the file ends at {size}{lost}"
            )
        seen.add(box_type)
        offset += box_size
    else:
        return None
    if b"moov" not in seen:
        return "mp4 has no moov atom (unfinished recording or incomplete upload?)"
    return None
