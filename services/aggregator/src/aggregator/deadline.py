"""The per-video deadline: the last line of defence against a video that never completes.

Every message path has its own guarantees (retries, the give-up rule, dead-letter queues), but
a result can still vanish: a message deleted by hand, a worker stuck forever, a bug. So every
video has a deadline derived from its length and its requested stages; a video still
``processing`` past it gets its unfinished stages failed ("timed out after N s") and completes,
exactly once (docs/architecture.md, "Deadlines").

A header enters the sparse "due" index of the table when it is created, due at once, and leaves
it when its completion is published. The sweep queries the index for videos due now, so it
never scans the table: on first sight of a video it sets the real deadline (so the deadline
settings live here, in the aggregator, and apply to every video); at the deadline it times the
video out; a video with a final status whose completion was never published (its last message
dead-lettered, its publisher died) gets that completion finished. Every write is conditional and
completion is the outbox of :class:`~videosense_shared.completion.Completion`, so every
aggregator worker can sweep at once: one ``VideoCompleted`` goes out.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from videosense_shared.bus import RetryableError
from videosense_shared.completion import Completion
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import StageStatus, VideoStatus, utc_now
from videosense_shared.store import DocumentNotFoundError, DocumentStore, Header

log = get_logger(__name__)


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long a video may take: ``base_s`` plus ``per_video_s`` seconds per second of video
    per requested stage."""

    base_s: float
    per_video_s: float

    def allowed(self, duration_s: float, stage_count: int) -> timedelta:
        """The time a video of ``duration_s`` seconds with ``stage_count`` stages may take."""
        return timedelta(seconds=self.base_s + self.per_video_s * duration_s * stage_count)

    def due_at(self, header: Header) -> datetime:
        """When the video's time is up."""
        duration = header.media.duration_s if header.media is not None else 0.0
        return header.created_at + self.allowed(duration, len(header.stages))


@dataclass(frozen=True)
class Wait:
    """Nothing to do yet: look again at ``at``."""

    at: datetime


@dataclass(frozen=True)
class TimeOut:
    """The deadline passed: fail the unfinished stages, then complete."""

    allowed: timedelta


@dataclass(frozen=True)
class FinishCompletion:
    """The status is final but ``VideoCompleted`` never went out: finish the completion."""


Step = Wait | TimeOut | FinishCompletion | None


def next_step(header: Header, now: datetime, policy: DeadlinePolicy, grace: timedelta) -> Step:
    """What the sweep does with a video now (``None``: nothing, it is published).

    ``grace`` is how long a completion in progress may take before the sweep finishes it.
    """
    if header.completion_published:
        return None
    if header.status != VideoStatus.PROCESSING:
        since = header.completed_at or header.created_at
        return FinishCompletion() if now >= since + grace else Wait(since + grace)
    due = policy.due_at(header)
    return TimeOut(due - header.created_at) if now >= due else Wait(due)


def timeout_reason(allowed: timedelta) -> str:
    """What a timed-out stage's error says."""
    return f"timed out after {allowed.total_seconds():.0f} s: no result within the video's deadline"


class DeadlineSweeper:
    """Finds videos past their deadline and completes them."""

    def __init__(
        self,
        store: DocumentStore,
        completion: Completion,
        policy: DeadlinePolicy,
        *,
        grace: timedelta,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._completion = completion
        self._policy = policy
        self._grace = grace
        self._batch = batch

    async def sweep(self, now: datetime | None = None, stop: asyncio.Event | None = None) -> int:
        """Look at up to one batch of due videos; return how many this call timed out.

        One video's trouble is logged and never stops the sweep; the video stays due and the
        next sweep tries again.
        """
        now = now or utc_now()
        timed_out = 0
        for video_id in await self._store.due_videos(now, self._batch):
            if stop is not None and stop.is_set():
                break
            with bound(video_id=video_id):
                try:
                    timed_out += await self._check(video_id, now)
                except DocumentNotFoundError:
                    continue  # deleted after the index listed it
                except RetryableError as err:
                    log.info("deadline check deferred", reason=str(err))
                except Exception:
                    log.exception("deadline check failed")
        return timed_out

    async def run(
        self, stop: asyncio.Event, interval_s: float, rng: random.Random | None = None
    ) -> None:
        """Sweep every ``interval_s`` seconds until ``stop`` is set (returns promptly then)."""
        # Start at a random point of the interval, so workers started together do not sweep in
        # step (they would only race for the same videos).
        wait = (rng or random.Random()).uniform(0, interval_s)
        while not await _stopped_within(stop, wait):
            try:
                await self.sweep(stop=stop)
            except Exception:
                log.exception("deadline sweep failed")
            wait = interval_s

    async def _check(self, video_id: str, now: datetime) -> bool:
        header = await self._store.header(video_id)
        match next_step(header, now, self._policy, self._grace):
            case Wait(at=at):
                if header.due_at != at:
                    await self._store.reschedule(video_id, at)
            case FinishCompletion():
                log.warning("finishing an abandoned completion", status=header.status.value)
                await self._completion.complete_if_due(video_id)
            case TimeOut(allowed=allowed):
                await self._time_out(header, allowed, now)
                return True
        return False

    async def _time_out(self, header: Header, allowed: timedelta, now: datetime) -> None:
        reason = timeout_reason(allowed)
        unfinished = [stage for stage, info in header.stages.items() if not info.status.terminal]
        log.warning("video timed out", stages=[s.value for s in unfinished], reason=reason)
        for stage in unfinished:
            # Conditional: a result that lands meanwhile, or another sweeper, wins the stage.
            await self._store.finish_stage(
                header.video_id,
                stage,
                StageStatus.FAILED,
                started_at=None,
                finished_at=now,
                backend=None,
                error=reason,
            )
        await self._completion.complete_if_due(header.video_id)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
