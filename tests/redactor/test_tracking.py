"""Tracks and per-frame boxes: interpolation between samples, extension along the motion at
track ends, never across a cut; linking by overlap and by distance; policies parsed."""

from __future__ import annotations

import pytest

from redactor.policy import parse_policy
from redactor.tracking import Geometry, Tracker, plan, track_boxes

GEOMETRY = Geometry(
    width=640, height=360, frame_count=100, cuts=(50,), extend_frames=5, padding=0.0
)


def test_boxes_are_interpolated_on_every_frame_between_samples() -> None:
    # GIVEN a face detected at frames 0 and 10, moving 100 px right
    tracker = Tracker(max_missed=2)
    tracker.observe(0, [(100, 100, 200, 200)])
    tracker.observe(10, [(200, 100, 300, 200)])
    # WHEN planned / THEN frame 5 has the box half way (a little larger: furthest from both
    # detections), and every frame between has one
    boxes = track_boxes(tracker.tracks[0], GEOMETRY)
    x0, y0, x1, y1 = boxes[5]
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx((200, 150))
    assert 100 < x1 - x0 <= 112
    assert boxes[0] == pytest.approx((100, 100, 200, 200))
    assert all(f in boxes for f in range(0, 11))


def test_ends_are_extended_along_the_motion_but_not_across_a_cut() -> None:
    # GIVEN a track at frames 30 and 40 moving right, and a cut at frame 50
    tracker = Tracker(max_missed=2)
    tracker.observe(30, [(100, 100, 200, 200)])
    tracker.observe(40, [(150, 100, 250, 200)])
    geometry = Geometry(640, 360, 100, cuts=(50,), extend_frames=15, padding=0.0)
    boxes = track_boxes(tracker.tracks[0], geometry)
    # THEN before its first detection the box comes from the left, after its last it goes on
    # right, growing a little
    assert boxes[25][0] < 75 < boxes[25][2]
    assert boxes[45][0] < 175
    assert boxes[45][2] > 275
    # AND it stops at the cut
    assert max(boxes) == 49
    assert min(boxes) == 30 - 15


def test_a_cut_ends_every_track() -> None:
    tracker = Tracker(max_missed=5)
    tracker.observe(40, [(100, 100, 200, 200)])
    tracker.cut(50)
    # the same place right after the cut is another face
    tracker.observe(50, [(100, 100, 200, 200)])
    assert [t.detections[0][0] for t in tracker.tracks] == [40, 50]
    assert tracker.tracks[1].scene_start == 50


def test_two_faces_crossing_keep_their_tracks() -> None:
    # GIVEN two faces moving towards each other, sampled every 5 frames
    tracker = Tracker(max_missed=2)
    for k in range(8):
        left = (50 + 40 * k, 100, 150 + 40 * k, 200)
        right = (500 - 40 * k, 120, 600 - 40 * k, 220)
        tracker.observe(5 * k, [left, right])
    # THEN each track moves one way all along
    assert len(tracker.tracks) == 2
    first, second = tracker.tracks
    assert [box[0] for _, box in first.detections] == sorted(b[0] for _, b in first.detections)
    assert [box[0] for _, box in second.detections] == sorted(
        (b[0] for _, b in second.detections), reverse=True
    )


def test_a_face_walking_in_is_covered_back_to_the_edge_and_a_still_one_is_not_stretched() -> None:
    # GIVEN a face first detected at the left edge moving right, and a still one at the top
    tracker = Tracker(max_missed=2)
    tracker.observe(20, [(10, 100, 110, 200), (300, 5, 380, 85)])
    tracker.observe(25, [(60, 100, 160, 200), (300, 5, 380, 85)])
    geometry = Geometry(640, 360, 100, cuts=(), extend_frames=5, padding=0.0, edge_frames=50)
    walking, still = (track_boxes(t, geometry) for t in tracker.tracks)
    # THEN the walking face is covered back until its box has left the picture (10 px a frame:
    # about 11 frames, a little more as the box grows) ...
    assert 7 <= min(walking) <= 9
    # ... and the still one only by the usual extension
    assert min(still) == 15


def test_a_missed_sample_is_bridged_and_too_many_end_the_track() -> None:
    tracker = Tracker(max_missed=1)
    tracker.observe(0, [(100, 100, 200, 200)])
    tracker.observe(5, [])
    tracker.observe(10, [(110, 100, 210, 200)])  # one miss: same track
    tracker.observe(15, [])
    tracker.observe(20, [])
    tracker.observe(25, [(120, 100, 220, 200)])  # two misses: a new track
    assert [len(t.detections) for t in tracker.tracks] == [2, 1]
    assert all(f in plan(tracker.tracks, GEOMETRY) for f in range(0, 11))


def test_names_are_the_majority_of_a_tracks_votes() -> None:
    tracker = Tracker(max_missed=1)
    (track,) = tracker.observe(0, [(0, 0, 10, 10)])
    track.votes += ["eileen", None, "eileen"]
    assert track.name == "eileen"
    track.votes += [None, None]
    assert track.name is None


@pytest.mark.parametrize(
    ("text", "name", "hides"),
    [
        ("all", None, True),
        ("only:eileen", "eileen", True),
        ("only:eileen", "grace", False),
        ("only:eileen", None, False),
        ("except: eileen , grace", "grace", False),
        ("except:eileen", None, True),
    ],
)
def test_policies(text: str, name: str | None, hides: bool) -> None:
    assert parse_policy(text).hides(name) is hides


@pytest.mark.parametrize("text", ["some", "only:", "except: ,", "hide:eileen"])
def test_bad_policies_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="policy"):
        parse_policy(text)
