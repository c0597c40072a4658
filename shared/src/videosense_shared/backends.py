"""How a stage's backend says it cannot run, and how a service opens it once.

A backend (a captioning model, a recognition API, a speech model) either works here or cannot,
for a reason that retrying the message will not fix: weights missing offline, no endpoint
configured, a language the model does not have, no credentials. Every service says so the same
way:

- opening the backend (``<service>/backends.py``: ``open_backend``) raises
  :class:`BackendUnavailableError` with a reason that says what to configure;
- the service keeps its backend in a :class:`BackendLoader` (``make_backend``), which opens it
  on the first message and remembers a failure, so the messages after it fail at once with the
  same reason instead of paying for another doomed attempt;
- the stage's handler turns the error into ``StageError(reason)``: the video's document says
  why the stage failed, and nothing silently falls back to another backend.

A backend may also raise :class:`BackendUnavailableError` while working (credentials that
vanish mid-run): the handler treats it the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

# Covariant: a loader of a particular backend is a loader of the interface it implements.
B = TypeVar("B", covariant=True)


class BackendUnavailableError(Exception):
    """The configured backend cannot run here (not configured completely, cannot load, no
    credentials). Retrying cannot help: the stage fails with ``reason``, which says what is
    missing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BackendLoader(Generic[B]):
    """Opens a service's backend on first use, once, and remembers a failure to open it.

    One loader per worker, shared by every message it handles: concurrent messages wait for
    the one opening. After a failure, :meth:`get` raises the same
    :class:`BackendUnavailableError` without opening again, for ever (``retry_after_s=None``:
    restart the service after fixing the cause) or until ``retry_after_s`` has passed (a hub
    that was briefly unreachable then needs no restart). Any other exception (a throttled
    check, a bug) is not remembered: the next message tries again.

    Args:
        name: the configured backend's name, known before it opens (logs, ``StageFailed``).
        opener: builds and loads the backend.
        retry_after_s: how long a failure is remembered (``None``: until restart).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], Awaitable[B]],
        *,
        retry_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._opener = opener
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._backend: B | None = None
        self._failure: BackendUnavailableError | None = None
        self._failed_at = 0.0

    @property
    def name(self) -> str:
        """The configured backend's name."""
        return self._name

    async def get(self) -> B:
        """The open backend (opened now if this is the first call).

        Raises:
            BackendUnavailableError: it cannot be opened, now or at an earlier attempt that is
                still remembered.
        """
        async with self._lock:
            if self._backend is not None:
                return self._backend
            if self._failure is not None and not self._may_retry():
                raise self._failure
            try:
                self._backend = await self._opener()
            except BackendUnavailableError as err:
                self._failure = err
                self._failed_at = self._clock()
                raise
            self._failure = None
            return self._backend

    def _may_retry(self) -> bool:
        if self._retry_after_s is None:
            return False
        return self._clock() - self._failed_at >= self._retry_after_s
