"""One video redacted: the backend's scan and the render at the same time.

The render (decode, redact, encode, copy the sound) runs in its own thread a bounded distance
behind the scan, drawing every frame as soon as its boxes are final
(:class:`~redactor.feed.BoxFeed`, :mod:`redactor.frontier`): the single-threaded scan and the
multi-threaded encoder share the cores instead of taking turns. A backend that learns every
face at once (Rekognition) publishes everything at the end, and the render waits for it.
Neither side holds pictures for the other: the render decodes the source itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from redactor.backend import FaceBackend, Findings, RedactionRequest
from redactor.effects import Style
from redactor.feed import BoxFeed, ReaderStoppedError
from redactor.render import Encoding, Rendered, render


@dataclass(frozen=True)
class Look:
    """How the copy looks: the redaction style and strength, and the encoding."""

    style: Style
    strength: float
    encoding: Encoding


async def redact(
    backend: FaceBackend,
    request: RedactionRequest,
    target: Path,
    look: Look,
    feed: BoxFeed | None = None,
) -> tuple[Findings, Rendered]:
    """Find the faces to hide in ``request.path`` and write the redacted copy to ``target``,
    both at once.

    Raises:
        redactor.render.RenderError: the copy cannot be written (the scan is stopped).
        RedactionError: the backend cannot redact this video (the render is stopped), and
            whatever else ``backend.find`` raises.
    """
    boxes = feed or BoxFeed()

    def draw() -> Rendered:
        try:
            rendered = render(
                request.path,
                target,
                boxes,
                style=look.style,
                strength=look.strength,
                encoding=look.encoding,
            )
        except BaseException:
            boxes.stop(failed=True)
            raise
        boxes.stop(failed=False)
        return rendered

    # The render has a thread of its own, not one of the shared pool the scan runs in: renders
    # waiting for their scans can never hold every thread a scan needs.
    own = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redactor-render")
    try:
        drawing = asyncio.get_running_loop().run_in_executor(own, draw)
        try:
            findings = await backend.find(request, boxes)
        except ReaderStoppedError:
            # The render failed first: its error is the reason.
            boxes.abort()
            await drawing
            raise
        except BaseException:
            boxes.abort()
            # The render stops because the scan did (or fails on the same bad input): the
            # scan's error is the reason.
            with contextlib.suppress(Exception):
                await drawing
            raise
        boxes.close()
        return findings, await drawing
    finally:
        own.shutdown(wait=False)
