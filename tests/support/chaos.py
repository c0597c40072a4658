"""Killing services on purpose: at random (seeded), and every time one service picks up one
particular video's message.

Both act on :class:`tests.support.service_processes.ServiceProcess` runs with SIGKILL, which is
what an out-of-memory kill, a node lost or a hard crash looks like from the outside: no drain, no
exception handler, the messages in flight simply reappear when their visibility ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tests.support.service_processes import LogRecord, ServiceProcess

#: The consumer's debug line for each delivery it starts handling (videosense_shared.bus
#: consumer); the message's ids are bound to it from its message attributes.
PICKED_UP = "message received"


class CrashOnPickup:
    """A watcher that SIGKILLs its service the moment it picks up ``video_id``'s message.

    It stands for a crash the work itself causes (a decoder that segfaults on this file, an
    out-of-memory kill): so it strikes on every delivery that runs the work, i.e. every delivery
    before the queue's last (``max_receives``), on which the stage worker gives up without
    running it. ``kills`` lists the receive counts it killed at.
    """

    def __init__(self, video_id: str, max_receives: int) -> None:
        self.video_id = video_id
        self.max_receives = max_receives
        self.kills: list[int] = []
        self.last_pickup = threading.Event()

    def __call__(self, service: ServiceProcess, record: LogRecord) -> None:
        if record.get("event") != PICKED_UP or record.get("video_id") != self.video_id:
            return
        count = int(record.get("receive_count") or 0)
        if count >= self.max_receives:
            self.last_pickup.set()
            return
        if service.kill(record.pid):
            self.kills.append(count)


class Supervisor:
    """Restarts every service whose process ended, ``pause_s`` after it was seen gone (what
    compose's ``restart: unless-stopped`` does)."""

    def __init__(self, services: Mapping[str, ServiceProcess], pause_s: float = 1.0) -> None:
        self.services = services
        self.pause_s = pause_s
        self.restarts: dict[str, int] = dict.fromkeys(services, 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Watch and restart until ``stop`` is set."""
        gone_since: dict[str, float] = {}
        while not stop.is_set():
            now = time.monotonic()
            for name, service in self.services.items():
                if not service.ended():
                    gone_since.pop(name, None)
                    continue
                since = gone_since.setdefault(name, now)
                if now - since >= self.pause_s:
                    # Started off the loop: the previous run's log reader is joined first.
                    await asyncio.to_thread(service.start)
                    self.restarts[name] += 1
                    gone_since.pop(name, None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.1)


@dataclass(frozen=True)
class Kill:
    """One random kill: when (seconds since the monkey started), whom, which pid."""

    at_s: float
    service: str
    pid: int


@dataclass
class ChaosMonkey:
    """SIGKILLs services at random moments (the :class:`Supervisor` restarts them).

    ``pool`` says which services may be killed right now (it is asked before every kill, so a
    service can join the pool later); ``caps`` bounds the kills per service, so that no message
    is retried past its queue's receive limit because of the monkey alone, and ``budget`` the
    kills in all. Only services that are up and consuming are killed: a kill during start-up
    tests nothing but the start-up.
    """

    services: Mapping[str, ServiceProcess]
    rng: random.Random
    pool: Callable[[], list[str]]
    caps: Mapping[str, int]
    budget: int
    interval_s: tuple[float, float] = (2.0, 6.0)
    journal: list[Kill] = field(default_factory=list)

    def _count(self, name: str) -> int:
        return sum(1 for kill in self.journal if kill.service == name)

    async def run(self, stop: asyncio.Event) -> None:
        """Kill at random intervals until ``stop`` is set."""
        started = time.monotonic()
        while len(self.journal) < self.budget:
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.rng.uniform(*self.interval_s))
                return
            except TimeoutError:
                pass
            candidates = sorted(
                name
                for name in self.pool()
                if self._count(name) < self.caps.get(name, 0) and self.services[name].ready
            )
            if not candidates:
                continue
            name = self.rng.choice(candidates)
            pid = self.services[name].pid
            if pid is not None and self.services[name].kill(pid):
                self.journal.append(Kill(round(time.monotonic() - started, 2), name, pid))
                print(f"chaos: SIGKILL {name} (pid {pid}) at {self.journal[-1].at_s} s")
