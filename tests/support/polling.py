"""Services that poll their queues every second, so a test's stack answers quickly."""

from __future__ import annotations

import pytest


def short_polls(monkeypatch: pytest.MonkeyPatch, *services: str) -> None:
    """Set each service's queue long-poll wait to 1 s (``services`` as in the settings'
    prefixes: ``"INGEST"``, ``"FRAME_EXTRACTOR"`` ...)."""
    for service in services:
        monkeypatch.setenv(f"VIDEOSENSE_{service}_WAIT_TIME_S", "1")
