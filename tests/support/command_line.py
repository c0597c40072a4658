"""Running the ``videosense`` command line from an async test."""

from __future__ import annotations

import asyncio

import pytest

from videosense.cli import main


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line (its own event loop, so in a thread) and capture its output:
    ``(exit code, stdout, stderr)``."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err
