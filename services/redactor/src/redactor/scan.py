"""The analysis pass: one decode of the video that finds its shots and, on sampled frames, its
faces (and text), linked into tracks.

Every frame is decoded (the boxes must be right on every one of them), but only a tiny
thumbnail of each is made for the cut test, and only sampled frames are scaled to the detection
width and shown upright (faces in a portrait phone video stand upright only after the display
rotation) for the detector. Boxes go back to the coded frame's pixels, where the renderer
works. Faces are named, when the policy needs names, from the full-resolution frame, a few per
track (:class:`~redactor.tracking.Track` votes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np

from redactor.cuts import HistogramCuts
from redactor.tracking import PixelBox, Track, Tracker, iou
from videosense_shared.messages import Box, Face, TextDetection
from videosense_shared.vision.images import Bgr

#: Names a face in a full-resolution upright frame (``None``: nobody known).
Namer = Callable[[Bgr, Box], str | None]
#: Told after every frame the scan has looked at (the scan so far, the frame's index): the
#: trackers have seen every sample up to it and every cut up to it is known.
Progress = Callable[["Scan", int], None]


class FaceFinder(Protocol):
    """A face detector (dlib's HOG detector, :mod:`videosense_shared.vision.faces`)."""

    def detect(self, image: Bgr, min_confidence: float) -> list[Face]:
        """Faces in a BGR image."""
        ...


class TextFinder(Protocol):
    """A text reader (RapidOCR, :mod:`videosense_shared.vision.text`)."""

    def read(self, image: Bgr, min_confidence: float) -> list[TextDetection]:
        """Lines of text in a BGR image."""
        ...


#: A text track survives one reading without its text.
TEXT_MAX_MISSED = 1


class ScanError(Exception):
    """The video cannot be decoded; the message is readable."""


@dataclass(frozen=True)
class ScanSettings:
    """How often and how small the scan looks."""

    sample_interval_s: float = 0.2
    full_frame_every: int = 3
    text_interval_s: float = 1.0
    detect_width: int = 480
    min_confidence: float = 50.0
    cut_threshold: float = 0.45
    max_missed_samples: int = 10
    embeddings_per_track: int = 3


@dataclass
class Scan:
    """What one pass over the video found."""

    width: int = 0
    height: int = 0
    rotation: int = 0
    frame_rate: float = 25.0  # the stream's average frame rate (what sampling is counted in)
    times: list[float] = field(default_factory=list)  # seconds of every frame, in order
    cuts: list[int] = field(default_factory=list)
    faces: list[Track] = field(default_factory=list)
    texts: list[Track] = field(default_factory=list)
    sample_frames: int = 1  # frames between two face samples (at the average rate)
    text_frames: int = 1

    @property
    def frame_count(self) -> int:
        """Frames decoded."""
        return len(self.times)

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame to the end of the last."""
        if not self.times:
            return 0.0
        step = self.times[-1] - self.times[-2] if len(self.times) > 1 else 0.0
        return self.times[-1] - self.times[0] + step


# Display rotation (counter-clockwise degrees) -> the cv2 rotation that shows the frame upright.
_UPRIGHT = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


def to_coded(box: Box, rotation: int) -> tuple[float, float, float, float]:
    """A relative box found on the upright picture, as relative left/top/width/height of the
    coded (unrotated) picture."""
    left, top, w, h = box.left, box.top, box.width, box.height
    if rotation == 90:
        return 1 - (top + h), left, h, w
    if rotation == 180:
        return 1 - (left + w), 1 - (top + h), w, h
    if rotation == 270:
        return top, 1 - (left + w), h, w
    return left, top, w, h


def to_upright(box: tuple[float, float, float, float], rotation: int) -> Box:
    """The inverse of :func:`to_coded`: relative left/top/width/height of the coded picture as a
    box of the upright one (clipped to it)."""
    left, top, w, h = box
    if rotation == 90:
        left, top, w, h = top, 1 - (left + w), h, w
    elif rotation == 180:
        left, top = 1 - (left + w), 1 - (top + h)
    elif rotation == 270:
        left, top, w, h = 1 - (top + h), left, h, w
    x0, y0 = min(1.0, max(0.0, left)), min(1.0, max(0.0, top))
    x1, y1 = min(1.0, max(0.0, left + w)), min(1.0, max(0.0, top + h))
    return Box(left=x0, top=y0, width=max(0.0, x1 - x0), height=max(0.0, y1 - y0))


def _pixels(box: Box, rotation: int, width: int, height: int) -> PixelBox:
    left, top, w, h = to_coded(box, rotation)
    return (left * width, top * height, (left + w) * width, (top + h) * height)


def _upright(image: Bgr, rotation: int) -> Bgr:
    if rotation in _UPRIGHT:
        return np.ascontiguousarray(cv2.rotate(image, _UPRIGHT[rotation]))
    return image


def _bgr(frame: av.VideoFrame, rotation: int) -> Bgr:
    """The frame at full resolution, upright, as BGR."""
    return _upright(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8), rotation)


def _every(interval_s: float, fps: float) -> int:
    return max(1, round(interval_s * fps))


def scan(
    path: Path,
    settings: ScanSettings,
    *,
    faces: FaceFinder | None,
    namer: Namer | None = None,
    texts: TextFinder | None = None,
    progress: Progress | None = None,
) -> Scan:
    """Decode ``path`` once: frame times, cuts, and (with a detector) face and text tracks.

    ``progress`` is called after every frame, with the scan so far (its ``faces`` and ``texts``
    are the trackers' growing lists): what lets the render follow the scan.

    Raises:
        ScanError: no video stream, or it cannot be decoded.
        Exception: whatever ``progress`` raises ends the scan.
    """
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise ScanError(f"the file cannot be opened as media: {err}") from err
    result = Scan()
    with container:
        if not container.streams.video:
            raise ScanError("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        result.frame_rate = rate
        result.sample_frames = _every(settings.sample_interval_s, rate)
        result.text_frames = _every(settings.text_interval_s, rate)
        face_tracker = Tracker(max_missed=settings.max_missed_samples, kind="face")
        text_tracker = Tracker(max_missed=TEXT_MAX_MISSED, kind="text")
        result.faces = face_tracker.tracks
        result.texts = text_tracker.tracks
        cuts = HistogramCuts(settings.cut_threshold)
        next_face = next_text = 0
        index = 0
        try:
            for frame in container.decode(stream):
                if index == 0:
                    result.width, result.height = frame.width, frame.height
                    result.rotation = round(frame.rotation / 90) % 4 * 90
                time = frame.time if frame.time is not None else index / rate
                result.times.append(float(time))
                thumb = frame.reformat(width=64, height=36, format="rgb24").to_ndarray()
                if cuts.push(np.asarray(thumb, np.uint8)) and index > 0:
                    result.cuts.append(index)
                    face_tracker.cut(index)
                    text_tracker.cut(index)
                    next_face = next_text = index  # look at the new shot at once
                want_face = faces is not None and index >= next_face
                want_text = texts is not None and index >= next_text
                if want_face or want_text:
                    _sample(
                        frame,
                        index,
                        result,
                        settings,
                        (face_tracker, text_tracker),
                        faces if want_face else None,
                        namer,
                        texts if want_text else None,
                    )
                    if want_face:
                        next_face = index + result.sample_frames
                    if want_text:
                        next_text = index + result.text_frames
                if progress is not None:
                    progress(result, index)
                index += 1
        except av.FFmpegError as err:
            raise ScanError(f"the video cannot be decoded: {err}") from err
    if index == 0:
        raise ScanError("the video stream holds no decodable frame")
    return result


#: A region searched around a track is scaled so that the face in it is about this wide (the
#: detector upsamples it once): large faces cost no more than small ones.
_ROI_FACE_PX = 70
# A region reaches this many face sizes beyond the predicted box on every side.
_ROI_MARGIN = 1.0


def _around_tracks(
    upright: Bgr,
    faces: FaceFinder,
    min_confidence: float,
    tracks: list[Track],
    index: int,
    coded_size: tuple[int, int],
    rotation: int,
) -> list[Face]:
    """Faces found in the regions around where ``tracks`` predict their faces at ``index``, as
    boxes relative to the whole upright picture (duplicates of overlapping regions dropped)."""
    uh, uw = upright.shape[:2]
    cw, ch = coded_size
    found: list[Face] = []
    for track in tracks:
        x0, y0, x1, y1 = track.predict(index)
        rel = to_upright((x0 / cw, y0 / ch, (x1 - x0) / cw, (y1 - y0) / ch), rotation)
        bx0, by0 = rel.left * uw, rel.top * uh
        bw, bh = rel.width * uw, rel.height * uh
        side = max(bw, bh, 8.0)
        rx0, ry0 = (
            max(0, math.floor(bx0 - _ROI_MARGIN * side)),
            max(0, math.floor(by0 - _ROI_MARGIN * side)),
        )
        rx1 = min(uw, math.ceil(bx0 + bw + _ROI_MARGIN * side))
        ry1 = min(uh, math.ceil(by0 + bh + _ROI_MARGIN * side))
        if rx1 - rx0 < 16 or ry1 - ry0 < 16:
            continue  # the face has left the picture
        crop = upright[ry0:ry1, rx0:rx1]
        factor = min(1.0, _ROI_FACE_PX / side)
        if factor < 1.0:
            crop = np.asarray(
                cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), np.uint8
            )
        for face in faces.detect(np.ascontiguousarray(crop), min_confidence):
            b = face.box
            box = Box(
                left=(rx0 + b.left * (rx1 - rx0)) / uw,
                top=(ry0 + b.top * (ry1 - ry0)) / uh,
                width=b.width * (rx1 - rx0) / uw,
                height=b.height * (ry1 - ry0) / uh,
            )
            candidate = Face(box=box, confidence=face.confidence)
            if all(_overlap(candidate.box, kept.box) < 0.5 for kept in found):
                found.append(candidate)
    return found


def _overlap(a: Box, b: Box) -> float:
    return iou(
        (a.left, a.top, a.left + a.width, a.top + a.height),
        (b.left, b.top, b.left + b.width, b.top + b.height),
    )


def _sample(
    frame: av.VideoFrame,
    index: int,
    result: Scan,
    settings: ScanSettings,
    trackers: tuple[Tracker, Tracker],
    faces: FaceFinder | None,
    namer: Namer | None,
    texts: TextFinder | None,
) -> None:
    rotation, w, h = result.rotation, result.width, result.height
    face_tracker, text_tracker = trackers
    if faces is not None:
        upright_w = h if rotation in (90, 270) else w
        scale = min(1.0, settings.detect_width / upright_w)
        small_w = max(2, math.floor(w * scale / 2) * 2)
        small_h = max(2, math.floor(h * scale / 2) * 2)
        small = frame.reformat(width=small_w, height=small_h, format="bgr24").to_ndarray()
        upright = _upright(np.asarray(small, np.uint8), rotation)
        # A full-frame look every few samples (and at every cut) finds new faces; in between,
        # only the regions where the open tracks' faces should be are searched: the same
        # sampling rate for the faces already found, at a fraction of the cost.
        full_scan = (index - result.cuts[-1] if result.cuts else index) % (
            result.sample_frames * settings.full_frame_every
        ) == 0
        open_tracks = face_tracker.open_tracks()
        if full_scan or not open_tracks:
            found = faces.detect(upright, settings.min_confidence) if full_scan else []
        else:
            found = _around_tracks(
                upright, faces, settings.min_confidence, open_tracks, index, (w, h), rotation
            )
        boxes = [_pixels(face.box, rotation, w, h) for face in found]
        tracks = face_tracker.observe(index, boxes)
        if namer is not None and found:
            full: Bgr | None = None
            for face, track in zip(found, tracks, strict=True):
                if len(track.votes) >= settings.embeddings_per_track:
                    continue
                if full is None:
                    full = _bgr(frame, rotation)
                track.votes.append(namer(full, face.box))
    if texts is not None:
        lines = texts.read(_bgr(frame, rotation), settings.min_confidence)
        text_tracker.observe(
            index, [_pixels(line.box, rotation, w, h) for line in lines if line.box is not None]
        )
