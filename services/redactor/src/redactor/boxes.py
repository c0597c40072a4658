"""From findings to every frame's boxes: how far face and text tracks reach (from the
settings and the sampling), and the whole plan of a finished scan."""

from __future__ import annotations

from redactor.backend import Findings
from redactor.frontier import Reach
from redactor.scan import Scan
from redactor.settings import RedactorSettings
from redactor.tracking import PixelBox, Track, plan


def edge_frames(found: Scan, settings: RedactorSettings) -> int:
    """How far a track entering or leaving the picture is carried, in frames."""
    return round(settings.edge_extend_s * found.frame_rate)


def face_reach(
    found: Scan, settings: RedactorSettings, extend_frames: int, extend_before: int
) -> Reach:
    """The reach of face tracks, carried ``extend_frames`` after their last detection and
    ``extend_before`` (0: as far) before their first."""
    return Reach(
        extend_frames=extend_frames,
        extend_before=extend_before,
        edge_frames=edge_frames(found, settings),
        padding=settings.padding,
    )


def text_reach(found: Scan, settings: RedactorSettings) -> Reach:
    """The reach of text tracks: text stays put between two readings, so it is carried to the
    next one."""
    return Reach(
        extend_frames=found.text_frames,
        extend_before=0,
        edge_frames=edge_frames(found, settings),
        padding=settings.padding,
    )


def boxes_per_frame(findings: Findings, settings: RedactorSettings) -> dict[int, list[PixelBox]]:
    """Every frame's boxes of a finished scan: the hidden faces' and, when read, the text's
    (frames without a box are absent)."""
    found = findings.scan

    def draw(tracks: list[Track], reach: Reach) -> dict[int, list[PixelBox]]:
        geometry = reach.geometry(found.width, found.height, found.frame_count, found.cuts)
        return plan(tracks, geometry)

    faces = face_reach(found, settings, findings.extend_frames, findings.extend_before)
    boxes = draw(findings.faces, faces)
    for frame, text_boxes in draw(findings.texts, text_reach(found, settings)).items():
        boxes.setdefault(frame, []).extend(text_boxes)
    return boxes
