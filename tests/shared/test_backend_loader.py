"""Opening a stage's backend once, and remembering why it cannot open."""

from __future__ import annotations

import asyncio

import pytest

from videosense_shared.backends import BackendLoader, BackendUnavailableError
from videosense_shared.bus import RetryableError


class Opener:
    """Counts its calls and fails with the scripted errors first, then opens."""

    def __init__(self, *failures: Exception) -> None:
        self.calls = 0
        self._failures = list(failures)

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)  # let concurrent callers pile up on the loader
        if self._failures:
            raise self._failures.pop(0)
        return f"backend #{self.calls}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_backend_opens_once_for_every_message() -> None:
    # GIVEN a loader
    opener = Opener()
    loader = BackendLoader("local", opener)
    # WHEN several messages ask for the backend at once, then once more
    first = await asyncio.gather(*(loader.get() for _ in range(5)))
    later = await loader.get()
    # THEN it opened once and every message got that backend
    assert opener.calls == 1
    assert set(first) == {later} == {"backend #1"}
    assert loader.name == "local"


async def test_a_failure_to_open_is_remembered_until_restart() -> None:
    # GIVEN a backend that cannot open, and a loader that never retries
    opener = Opener(BackendUnavailableError("no weights"), BackendUnavailableError("other"))
    clock = Clock()
    loader = BackendLoader("local", opener, retry_after_s=None, clock=clock)
    with pytest.raises(BackendUnavailableError, match="no weights"):
        await loader.get()
    # WHEN later messages ask for it, even hours later
    clock.now += 86_400
    for _ in range(3):
        with pytest.raises(BackendUnavailableError, match="no weights"):
            await loader.get()
    # THEN opening was tried once: the later messages fail at once with the same reason
    assert opener.calls == 1


async def test_a_remembered_failure_is_retried_after_its_delay() -> None:
    # GIVEN a backend whose hub was unreachable once, and a loader retrying after 300 s
    opener = Opener(BackendUnavailableError("hub unreachable"))
    clock = Clock()
    loader = BackendLoader("whisper", opener, retry_after_s=300, clock=clock)
    with pytest.raises(BackendUnavailableError, match="hub unreachable"):
        await loader.get()
    # WHEN a message comes before the delay has passed
    clock.now += 299
    with pytest.raises(BackendUnavailableError, match="hub unreachable"):
        await loader.get()
    assert opener.calls == 1
    # AND another after it
    clock.now += 1
    backend = await loader.get()
    # THEN that one opens the backend again, and it stays open
    assert backend == "backend #2"
    assert await loader.get() == "backend #2"
    assert opener.calls == 2


async def test_a_transient_failure_is_not_remembered() -> None:
    # GIVEN an opener whose check was throttled once
    opener = Opener(RetryableError("DescribeCollection throttled"))
    loader = BackendLoader("rekognition", opener)
    # WHEN the first message fails with the transient error
    with pytest.raises(RetryableError):
        await loader.get()
    # THEN the next message opens the backend
    assert await loader.get() == "backend #2"
