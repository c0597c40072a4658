"""The frontier: while a scan runs, it gives every frame's boxes once they are final, exactly as
the whole plan of the finished scan has them, and never later than its horizon after the scan
has passed the frame.

The scans here are simulated, frame by frame as :func:`redactor.scan.scan` feeds the trackers
(a sample every few frames and at every cut), with faces that walk in from the edges, stop
being detected for a while, cross, and end at cuts: many videos' worth of cases in a second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from redactor.frontier import Frontier, Lane, Reach
from redactor.tracking import PixelBox, Track, Tracker, plan

WIDTH, HEIGHT = 1280, 720


@dataclass
class Walker:
    """A face moving in a straight line, detected with some probability."""

    x: float
    y: float
    vx: float
    vy: float
    size: float
    seen: float  # probability of a detection on a sample
    name: str

    def box(self, frame: int) -> PixelBox:
        x, y = self.x + self.vx * frame, self.y + self.vy * frame
        return (x, y, x + self.size, y + self.size)


@dataclass
class Simulated:
    tracks: list[Track]
    cuts: list[int]
    given: list[list[PixelBox]]
    late: int  # the most frames the scan was past a frame before it was given
    horizon: int
    frame_count: int


def simulate(
    seed: int,
    *,
    frames: int = 400,
    sample: int = 5,
    max_missed: int = 4,
    reach: Reach | None = None,
    names: int = 0,
    only: str | None = None,
) -> Simulated:
    """A random scan followed by a frontier."""
    rng = random.Random(seed)
    reach = reach or Reach(extend_frames=5, extend_before=15, edge_frames=50, padding=0.4)
    tracker = Tracker(max_missed=max_missed)
    named: dict[int, str] = {}

    def hides(track: Track) -> bool:
        return only is None or track.name == only

    lane = Lane(
        tracks=tracker.tracks,
        reach=reach,
        sample_frames=sample,
        max_missed=max_missed,
        hides=hides,
        settled_after=max(4, names),
    )
    frontier = Frontier([lane])
    cuts: list[int] = []
    given: list[list[PixelBox]] = []
    first_given_at: dict[int, int] = {}
    walkers: list[Walker] = []
    next_sample = 0
    for index in range(frames):
        if index > 0 and rng.random() < 0.01:  # a hard cut: new people
            cuts.append(index)
            tracker.cut(index)
            walkers = []
            next_sample = index
        if rng.random() < 0.03 and len(walkers) < 4:  # someone walks in (often from an edge)
            edge = rng.random() < 0.5
            walkers.append(
                Walker(
                    x=rng.choice([-60.0, WIDTH - 20.0]) if edge else rng.uniform(0, WIDTH),
                    y=rng.uniform(0, HEIGHT - 80),
                    vx=rng.uniform(-6, 6) + (rng.choice([-4, 4]) if edge else 0),
                    vy=rng.uniform(-2, 2),
                    size=rng.uniform(40, 160),
                    seen=rng.choice([1.0, 0.9, 0.5]),
                    name=rng.choice(["ada", "bo"]),
                )
            )
            walkers[-1].x -= walkers[-1].vx * index
            walkers[-1].y -= walkers[-1].vy * index
        if index >= next_sample:
            boxes, who = [], []
            for walker in walkers:
                box = walker.box(index)
                visible = box[2] > 0 and box[0] < WIDTH and box[3] > 0 and box[1] < HEIGHT
                if visible and rng.random() < walker.seen:
                    boxes.append(box)
                    who.append(walker.name)
            for track, name in zip(tracker.observe(index, boxes), who, strict=True):
                if len(track.votes) < names:
                    track.votes.append(name if rng.random() < 0.6 else None)
                named[track.id] = name
            next_sample = index + sample
        start = frontier.next_frame
        out = frontier.advance(index, cuts, WIDTH, HEIGHT)
        assert start == len(given)
        given.extend(out)
        for frame in range(start, start + len(out)):
            first_given_at[frame] = index
    given.extend(frontier.finish(frames, cuts, WIDTH, HEIGHT))
    late = max((at - frame for frame, at in first_given_at.items()), default=0)
    return Simulated(tracker.tracks, cuts, given, late, frontier.horizon, frames)


def whole(sim: Simulated, reach: Reach, only: str | None = None) -> dict[int, list[PixelBox]]:
    tracks = [t for t in sim.tracks if only is None or t.name == only]
    return plan(tracks, reach.geometry(WIDTH, HEIGHT, sim.frame_count, sim.cuts))


REACH = Reach(extend_frames=5, extend_before=15, edge_frames=50, padding=0.4)
# No edge reach and tracks that survive long gaps: open tracks, not new ones, hold frames back.
SHORT = Reach(extend_frames=5, extend_before=10, edge_frames=0, padding=0.4)
CASES = [(seed, REACH, 4) for seed in range(8)] + [(seed, SHORT, 12) for seed in range(8)]


@pytest.mark.parametrize(("seed", "reach", "max_missed"), CASES)
def test_the_boxes_given_while_scanning_are_the_whole_plans_on_every_frame(
    seed: int, reach: Reach, max_missed: int
) -> None:
    # GIVEN a scan with faces coming and going, missed detections and cuts
    sim = simulate(seed, reach=reach, max_missed=max_missed)
    assert sim.tracks, "the simulation found no face"
    # WHEN the frontier follows it / THEN every frame was given exactly once, with the boxes
    # (same values, same order) the plan of the finished scan has
    expected = whole(sim, reach)
    assert len(sim.given) == sim.frame_count
    for frame, boxes in enumerate(sim.given):
        assert boxes == expected.get(frame, []), f"frame {frame}"
    # ... and no frame was held back further than the horizon
    assert sim.late <= sim.horizon


@pytest.mark.parametrize(("seed", "reach", "max_missed"), CASES)
def test_a_policy_that_names_people_waits_for_the_vote(
    seed: int, reach: Reach, max_missed: int
) -> None:
    # GIVEN tracks named by the vote of their first 6 faces, and a policy hiding one person
    sim = simulate(seed + 100, reach=reach, max_missed=max_missed, names=6, only="ada")
    # THEN the frames given are the whole plan's for that person's tracks alone
    expected = whole(sim, reach, only="ada")
    for frame, boxes in enumerate(sim.given):
        assert boxes == expected.get(frame, []), f"frame {frame}"
    assert sim.late <= sim.horizon


def test_the_horizon_is_the_edge_reach_plus_the_detections_a_new_track_needs() -> None:
    # GIVEN samples every 5 frames, tracks kept over 10 missed samples, a 50-frame edge reach
    lane = Lane(tracks=[], reach=REACH, sample_frames=5, max_missed=10)
    # THEN a frame is final at most 50 + 3 * 55 frames after it was scanned
    assert Frontier([lane]).horizon == 50 + 3 * 55


def test_with_a_steadily_detected_face_the_render_is_held_back_little() -> None:
    # GIVEN a face in the middle of the picture detected on every sample for 200 frames
    tracker = Tracker(max_missed=10)
    lane = Lane(tracks=tracker.tracks, reach=REACH, sample_frames=5, max_missed=10)
    frontier = Frontier([lane])
    given = 0
    lag = 0
    for index in range(200):
        if index % 5 == 0:
            tracker.observe(index, [(600.0 + index, 300.0, 700.0 + index, 400.0)])
        given += len(frontier.advance(index, [], WIDTH, HEIGHT))
        lag = max(lag, index + 1 - given)
    # THEN frames are given about the edge reach behind the scan, not the worst case
    assert lag <= REACH.back + 5 < Frontier([lane]).horizon
