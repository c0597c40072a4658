"""The hand-over of final boxes from the scan (or a backend's results) to the render, which runs
at the same time in another thread.

The writer publishes consecutive frames' boxes as they become final; the reader asks for each
frame in order and waits until it is final. Both sides stay a bounded distance apart: the
reader cannot pass the writer, and the writer waits while it is more than ``max_ahead`` frames
ahead of the reader, so only that many frames' boxes (never pictures) are held. Either side
failing stops the other instead of leaving it waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Protocol

from redactor.tracking import PixelBox


class FeedAbortedError(Exception):
    """The writer failed: the frame's boxes will never come."""


class ReaderStoppedError(Exception):
    """The reader (the render) failed: nobody reads what is published."""


class BoxSource(Protocol):
    """Where the render takes every frame's boxes from, frame by frame in order."""

    def boxes(self, frame: int) -> Sequence[PixelBox]:
        """The boxes to hide on ``frame`` (waiting until they are final).

        Raises:
            FeedAbortedError: they will never come.
        """
        ...


class BoxSink(Protocol):
    """Where a backend puts every frame's boxes as soon as they are final."""

    def publish(self, first: int, frames: Sequence[Sequence[PixelBox]]) -> None:
        """The boxes of frames ``first``, ``first + 1``, ... (consecutive with the previous
        call's).

        Raises:
            ReaderStoppedError: the reader failed; stop working.
        """
        ...


class PlannedBoxes:
    """A finished plan (frames without a box absent) as a :class:`BoxSource`."""

    def __init__(self, boxes: Mapping[int, Sequence[PixelBox]]) -> None:
        self._boxes = boxes

    def boxes(self, frame: int) -> Sequence[PixelBox]:
        """The plan's boxes on ``frame``."""
        return self._boxes.get(frame, ())


class BoxFeed:
    """A :class:`BoxSink` the writer fills and a :class:`BoxSource` the reader drains."""

    def __init__(self, max_ahead: int = 500) -> None:
        self._changed = threading.Condition()
        self._boxes: dict[int, Sequence[PixelBox]] = {}
        self._final = 0  # frames below this are final
        self._reading = 0  # the frame the reader asks for
        self._max_ahead = max_ahead
        self._closed = False  # every frame is final
        self._aborted = False
        self._reader_done = False
        self._reader_failed = False

    def publish(self, first: int, frames: Sequence[Sequence[PixelBox]]) -> None:
        """The boxes of frames ``first, first + 1, ...``; waits while the reader is far behind.

        Raises:
            ReaderStoppedError: the reader failed.
            ValueError: ``first`` does not follow the frames published before.
        """
        with self._changed:
            if first != self._final:
                raise ValueError(f"frames published out of order: {first}, expected {self._final}")
            self._changed.wait_for(
                lambda: self._reader_done or first - self._reading <= self._max_ahead
            )
            if self._reader_failed:
                raise ReaderStoppedError("the render stopped")
            if not self._reader_done:
                for i, found in enumerate(frames):
                    if found:
                        self._boxes[first + i] = found
            self._final = first + len(frames)
            self._changed.notify_all()

    def close(self) -> None:
        """Every frame is final: frames not published have no box."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def abort(self) -> None:
        """The writer failed: a reader waiting for a frame gets :class:`FeedAbortedError`."""
        with self._changed:
            self._aborted = True
            self._changed.notify_all()

    def stop(self, *, failed: bool) -> None:
        """The reader is done (``failed``: it failed, and the writer should stop too)."""
        with self._changed:
            self._reader_done = True
            self._reader_failed = failed
            self._boxes.clear()
            self._changed.notify_all()

    def boxes(self, frame: int) -> Sequence[PixelBox]:
        """The boxes of ``frame``, once final (frames are asked for in order).

        Raises:
            FeedAbortedError: the writer failed before ``frame`` was final.
        """
        with self._changed:
            self._reading = frame
            self._changed.notify_all()
            self._changed.wait_for(lambda: frame < self._final or self._closed or self._aborted)
            if frame >= self._final and not self._closed:
                raise FeedAbortedError("the boxes of this frame will never come")
            return self._boxes.pop(frame, ())
