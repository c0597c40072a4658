"""The clipper's worker shape: the stage worker's (docs/architecture.md, "The stage worker")
for a service that is not an analysis stage. Its own code is one function,
``process(request, attempt) -> ClipsReady``; everything around it lives here:

- parse the delivery into a ``ClipRequested`` (invalid -> dead-letter queue with the reason);
- bind ``video_id``/``trace_id``/``request_id`` to every log line;
- record the result (``record``: the handler writes ``clips/{video_id}/{request_id}/result.json``)
  and publish it on ``clips-ready``, or a ``failed`` result carrying :class:`ClipRequestError`'s
  reason, so a request is always answered; every answer is recorded before it is published
  (``complete``, ``empty`` and ``failed`` alike), so whoever polls the record (the web app)
  sees the request end; the first record of a request stays, and what is published is what
  is recorded (``record`` returns it);
- the give-up rule: on the last delivery the queue allows, the cut is not tried again (it may
  be what killed the worker) and a ``failed`` result says why (recorded if the bucket allows,
  published in any case: it is the last chance to answer).

Clipping does not touch the video document: its stages and status stay as the analysis left
them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from pydantic import TypeAdapter

from videosense_shared.bus import Attempt, Delivery, LastErrors, Publisher, give_up_reason
from videosense_shared.bus.envelope import parse_typed
from videosense_shared.clip_answers import result_id
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import ClipRequested, ClipSource, ClipsReady, ClipStatus, utc_now
from videosense_shared.topology import CLIPS_READY

log = get_logger(__name__)

__all__ = ["ClipRequestError", "ClipWorker", "answer", "result_id"]

Process = Callable[[ClipRequested, Attempt], Awaitable[ClipsReady]]
#: Records an answer unless the request has one already; returns the recorded answer.
Record = Callable[[ClipsReady], Awaitable[ClipsReady]]


class ClipRequestError(Exception):
    """This request cannot be answered with clips; ``reason`` is readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def answer(
    request: ClipRequested,
    status: ClipStatus,
    reason: str | None,
    started_at: datetime,
    source: ClipSource | None = None,
) -> ClipsReady:
    """A result without files (``empty`` or ``failed``) for ``request``."""
    return ClipsReady(
        message_id=result_id(request),
        video_id=request.video_id,
        trace_id=request.trace_id,
        request_id=request.request_id,
        status=status,
        reason=reason,
        source=source,
        started_at=started_at,
        finished_at=utc_now(),
    )


class ClipWorker:
    """Runs ``process`` for every delivery of a ``ClipRequested``, then records and publishes
    its answer (``record`` stores it where a repeat of the request, or a poll, finds it)."""

    def __init__(self, publisher: Publisher, process: Process, record: Record) -> None:
        self._publisher = publisher
        self._process = process
        self._record = record
        self._adapter: TypeAdapter[ClipRequested] = TypeAdapter(ClipRequested)
        self._last_errors = LastErrors()

    async def handle(self, delivery: Delivery) -> None:
        """Consume one delivery of a clip request.

        Raises:
            PoisonMessage: the body is not a valid ``ClipRequested``.
            RetryableError: transient trouble (raised by ``process``); the message comes back.
            Exception: anything else ``process`` raised is retried the same way.
        """
        request = parse_typed(delivery, self._adapter)
        context = {
            "video_id": request.video_id,
            "trace_id": request.trace_id,
            "request_id": request.request_id,
        }
        with bound(**context):
            started = utc_now()
            if delivery.is_last:
                last = self._last_errors.pop(request.message_id)
                reason = give_up_reason(delivery.receive_count - 1, last)
                result = answer(request, ClipStatus.FAILED, reason, started)
                try:
                    result = await self._record(result)
                except Exception as err:
                    # No delivery is left to retry on: the published answer must still go out.
                    log.warning("could not record the give-up answer", error=str(err))
                await self._publish(result)
                return
            attempt = Attempt(delivery.receive_count, delivery.max_receives)
            try:
                try:
                    result = await self._process(request, attempt)
                except ClipRequestError as err:
                    result = answer(request, ClipStatus.FAILED, err.reason, started)
                await self._publish(await self._record(result))
            except Exception as err:
                self._last_errors.remember(request.message_id, err)
                raise
            self._last_errors.pop(request.message_id)

    async def _publish(self, result: ClipsReady) -> None:
        log.info(
            f"clips {result.status.value}",
            reason=result.reason,
            clips=len(result.clips),
            supercut=result.supercut is not None,
        )
        await self._publisher.publish(CLIPS_READY, result)
