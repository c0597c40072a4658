"""A box sink that keeps what a backend publishes."""

from __future__ import annotations

from collections.abc import Sequence

from redactor.tracking import PixelBox


class CollectedBoxes:
    """Every frame's published boxes, in order (publishing out of order fails the test)."""

    def __init__(self) -> None:
        self.frames: list[list[PixelBox]] = []

    def publish(self, first: int, frames: Sequence[Sequence[PixelBox]]) -> None:
        assert first == len(self.frames), f"frame {first} published after {len(self.frames)}"
        self.frames.extend(list(found) for found in frames)

    def plan(self) -> dict[int, list[PixelBox]]:
        """The frames with a box, as :func:`redactor.tracking.plan` gives them."""
        return {i: found for i, found in enumerate(self.frames) if found}
