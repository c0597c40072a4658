"""The analysis pass: faces looked for upright (a phone's portrait video) and placed back on the
coded frame; a hard cut found on its frame, ending the tracks before it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from redactor.scan import ScanSettings, scan
from redactor.tracking import iou
from tests.redactor.composite import Placement, background, eileen, paste, write_clip
from tests.support.clips import with_rotation
from videosense_shared.vision.faces import HogFaceDetector


@pytest.fixture(scope="module")
def detector() -> HogFaceDetector:
    return HogFaceDetector()


def test_a_portrait_video_is_scanned_upright_and_boxes_land_on_the_coded_frame(
    tmp_path: Path, detector: HogFaceDetector
) -> None:
    # GIVEN frames stored sideways (rotated clockwise) with a 90-degree display matrix, as a
    # phone records portrait video: the face is upright only once the rotation is applied
    upright = background((360, 640), 0)
    face = paste(upright, Placement(eileen(), 50, 150))
    assert face is not None
    coded = np.asarray(cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE), np.uint8)
    plain = write_clip(tmp_path / "coded.mp4", [coded] * 10, (640, 360))
    phone = with_rotation(plain, tmp_path / "phone.mp4", degrees=90)
    # WHEN scanned
    found = scan(phone, ScanSettings(), faces=detector)
    # THEN the face is found, and its box is where the face is in the coded (sideways) frame
    assert found.rotation == 90
    assert (found.width, found.height) == (640, 360)
    (track,) = found.faces
    x0, y0, x1, y1 = face  # upright (640 high); turned clockwise: (x, y) -> (640 - y, x)
    expected = (640 - y1, x0, 640 - y0, x1)
    box = track.detections[0][1]
    assert iou(box, expected) > 0.3, (box, expected)


def test_a_hard_cut_is_found_and_ends_the_tracks(tmp_path: Path, detector: HogFaceDetector) -> None:
    # GIVEN 20 frames of Eileen on one background, then 20 of her on another, same place
    person = eileen()
    frames = []
    for i in range(40):
        frame = background((640, 360), i, seed=0 if i < 20 else 9)
        face = paste(frame, Placement(person, 200, 40))
        frames.append(frame)
    assert face is not None
    clip = write_clip(tmp_path / "cut.mp4", frames, (640, 360))
    # WHEN scanned
    found = scan(clip, ScanSettings(), faces=detector)
    # THEN the cut is on frame 20, the new shot is looked at at once, and her face has one
    # track per shot (the noisy background may add a stray box or two: over-redaction)
    assert found.cuts == [20]
    x0, y0, x1, y1 = face
    hers = [t for t in found.faces if iou(t.detections[0][1], (x0, y0, x1, y1)) > 0.2]
    assert [t.first for t in hers] == [0, 20]
    assert hers[0].last < 20
