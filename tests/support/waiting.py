"""Waiting on conditions with deadlines (never fixed sleeps as synchronisation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.2,
    what: str = "condition",
) -> T:
    """Await ``probe()`` until it returns a truthy value; return that value.

    Raises:
        AssertionError: still falsy at the deadline.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(interval_s)


async def receive_all(sqs: Any, url: str, *, settle_s: float = 2.0) -> list[dict[str, Any]]:
    """Receive (and delete) everything on a queue until it stays empty for ``settle_s``."""
    messages: list[dict[str, Any]] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_s:
        resp = await sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        batch = resp.get("Messages", [])
        for msg in batch:
            await sqs.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        if batch:
            messages.extend(batch)
            quiet_since = time.monotonic()
    return messages
