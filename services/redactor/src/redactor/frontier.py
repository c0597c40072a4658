"""Which frames' boxes are final while the scan is still running, and those boxes.

The render follows the scan (``docs/architecture.md``, "Redaction"): it may draw frame ``f`` as
soon as nothing the scan can still find changes ``f``'s boxes. In :mod:`redactor.tracking`,
three things reach back in time:

- a face first detected later is carried back before its first detection, by up to
  :attr:`Reach.back` frames (the longer of the extension before a first detection and the edge
  extension of a face walking in), never across a cut;
- an open track's next detection (interpolation) or its end (extension) decides every frame
  after its last detection; it has one within ``max_missed + 1`` samples, or it ends;
- the motion a track is carried back with is fitted over its first few detections and, when
  the policy names people, its name is voted over its first few faces: until it has them (or
  has ended), nothing from where it can reach back is final.

:class:`Frontier` applies exactly these rules after every scanned frame, and gives each frame's
boxes once, as :func:`~redactor.tracking.plan` would on the finished scan. Its worst case,
:attr:`Frontier.horizon`, bounds how far the scan must be ahead of a frame before the frame is
final; in the usual case (faces found on every sample) it is the edge extension plus a few
samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redactor.tracking import FIT, Geometry, PixelBox, Track, track_boxes


@dataclass(frozen=True)
class Reach:
    """How far a kind of track is carried beyond its detections, and how it is padded."""

    extend_frames: int  # after the last detection
    extend_before: int  # before the first (0: ``extend_frames``)
    edge_frames: int  # either way, for a face entering or leaving the picture
    padding: float

    @property
    def back(self) -> int:
        """Frames before its first detection a track can cover."""
        return max(self.extend_before or self.extend_frames, self.edge_frames)

    @property
    def forward(self) -> int:
        """Frames after its last detection a track can cover."""
        return max(self.extend_frames, self.edge_frames)

    def geometry(self, width: int, height: int, frame_count: int, cuts: Sequence[int]) -> Geometry:
        """The plan's geometry for a video of this size, length and shots."""
        return Geometry(
            width=width,
            height=height,
            frame_count=frame_count,
            cuts=tuple(cuts),
            extend_frames=self.extend_frames,
            extend_before=self.extend_before,
            padding=self.padding,
            edge_frames=self.edge_frames,
        )


def _everyone(_track: Track) -> bool:
    return True


@dataclass(frozen=True)
class Lane:
    """One kind of track drawn (faces, text): its tracker's list, growing while the scan runs,
    and how that tracker samples (for the worst case)."""

    tracks: list[Track]
    reach: Reach
    sample_frames: int  # frames between two samples
    max_missed: int  # samples a track survives without a detection
    hides: Callable[[Track], bool] = _everyone  # the policy (on the track's final name)
    settled_after: int = FIT  # detections that fix a track's start (motion fit, name votes)

    @property
    def horizon(self) -> int:
        """Frames the scan may need to be past a frame before this lane's boxes on it are
        final: a face first seen ``back`` frames later needs ``settled_after - 1`` more
        detections, each at most ``max_missed + 1`` samples after the one before."""
        gap = (self.max_missed + 1) * self.sample_frames
        return max(gap, self.reach.back + (max(1, self.settled_after) - 1) * gap)


class Frontier:
    """Follows a scan and hands out, in order, the boxes of every frame that has become final."""

    def __init__(self, lanes: Sequence[Lane]) -> None:
        self._lanes = tuple(lanes)
        # Per lane, in creation order, the tracks that may still cover a frame not yet given.
        self._live: list[list[Track]] = [[] for _ in self._lanes]
        self._admitted = [0] * len(self._lanes)
        self._back = max((lane.reach.back for lane in self._lanes), default=0)
        self._next = 0

    @property
    def next_frame(self) -> int:
        """The first frame whose boxes have not been given yet."""
        return self._next

    @property
    def horizon(self) -> int:
        """At most this many frames after frame ``f`` has been scanned, ``f`` is final."""
        return max((lane.horizon for lane in self._lanes), default=0)

    def advance(
        self, position: int, cuts: Sequence[int], width: int, height: int
    ) -> list[list[PixelBox]]:
        """The boxes of the frames from :attr:`next_frame` on that are final now that frame
        ``position`` has been scanned (its sample given to the trackers, ``cuts`` up to it)."""
        # A face first detected after ``position`` reaches back ``back`` frames, not across
        # the last cut.
        final = max(position - self._back, (cuts[-1] - 1) if cuts else -1)
        for i, lane in enumerate(self._lanes):
            self._admit(i)
            for track in self._live[i]:
                if track.closed:
                    continue
                if len(track.detections) < lane.settled_after:
                    start = max(track.first - lane.reach.back, track.scene_start)
                    final = min(final, start - 1)
                else:
                    final = min(final, track.last)
        return self._give(min(final, position) + 1, position + 1, cuts, width, height)

    def finish(
        self, frame_count: int, cuts: Sequence[int], width: int, height: int
    ) -> list[list[PixelBox]]:
        """The boxes of every frame not given yet: the scan has ended (``frame_count``
        frames), every track with it."""
        for i in range(len(self._lanes)):
            self._admit(i)
        return self._give(frame_count, frame_count, cuts, width, height)

    def _admit(self, lane: int) -> None:
        tracks = self._lanes[lane].tracks
        self._live[lane].extend(tracks[self._admitted[lane] :])
        self._admitted[lane] = len(tracks)

    def _give(
        self, end: int, known: int, cuts: Sequence[int], width: int, height: int
    ) -> list[list[PixelBox]]:
        """Frames ``[next_frame, end)``; ``known`` frames have been scanned (the last shot
        ends there as far as anyone knows: it only matters to frames not given)."""
        start = self._next
        if end <= start:
            return []
        out: list[list[PixelBox]] = [[] for _ in range(end - start)]
        for lane, live in zip(self._lanes, self._live, strict=True):
            geometry = lane.reach.geometry(width, height, known, cuts)
            for track in live:
                if lane.hides(track):
                    for frame, box in track_boxes(track, geometry, (start, end)).items():
                        out[frame - start].append(box)
            # An ended track whose reach stops before ``end`` covers nothing more.
            live[:] = [t for t in live if not t.closed or t.last + lane.reach.forward >= end]
        self._next = end
        return out
