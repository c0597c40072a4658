"""The SQS consumer runtime every service runs: receive, dispatch, heartbeat, settle, drain.

Delivery semantics (see docs/architecture.md): a message is deleted only after its handler
returned (and so after the handler published its outputs); long work keeps the message
invisible with a heartbeat; transient failures come back after a jittered exponential
backoff and SQS redrive bounds them; poison goes to the dead-letter queue at once. Stopping is
graceful when asked via the ``stop`` event (stop receiving, drain, release what is left) and
abrupt when the ``run`` task is cancelled (what is in flight reappears after its visibility
timeout, exactly as after a crash).
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from videosense_shared.bus.backoff import DEFAULT_RETRY_BASE_S, SQS_MAX_VISIBILITY_S, retry_delay_s
from videosense_shared.bus.dead_letter import DeadLetterQueue, NoDeadLetterQueueError
from videosense_shared.bus.envelope import Delivery, delivery_from_sqs, log_context
from videosense_shared.bus.errors import PoisonMessage, RetryableError
from videosense_shared.logs import bound, get_logger

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

    from videosense_shared.settings import CommonSettings, ConsumerSettings

Handler = Callable[[Delivery], Awaitable[None]]
"""A unit of work: one typed delivery in; return normally to acknowledge it."""

# Backoff after a failed ReceiveMessage (endpoint down, throttled): short at first so a blip
# costs little, capped so a long outage is noticed quickly once it ends.
_RECEIVE_BACKOFF_BASE_S = 1.0
_RECEIVE_BACKOFF_CAP_S = 30.0

# How long cancelled handlers get to unwind before run() gives up on them. A handler that
# swallows cancellation must not keep a stopping service alive forever.
_CANCEL_GRACE_S = 5.0


@dataclass
class _InFlight:
    """Book-keeping for one message between receive and settlement."""

    receipt_handle: str
    sqs_message_id: str
    # True while the handler runs; False once it ended and the message is being settled. Only
    # messages whose handler still runs are cancelled and released when draining times out.
    handling: bool = True


class Consumer:
    """Consumes one SQS queue with a handler, at most ``settings.concurrency`` messages at once.

    ``name`` appears on every log line (``consumer=...``). ``retry_base_s`` is the first retry
    delay (doubled per receive, capped at ``settings.max_retry_delay_s``); ``rng`` makes the
    jitter reproducible in tests.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        settings: ConsumerSettings,
        *,
        name: str,
        retry_base_s: float = DEFAULT_RETRY_BASE_S,
        rng: random.Random | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._settings = settings
        self._name = name
        self._retry_base_s = retry_base_s
        self._rng = rng or random.Random()
        self._dlq = DeadLetterQueue(sqs, queue_url)
        self._in_flight: dict[asyncio.Task[None], _InFlight] = {}
        self._log: Any = get_logger("videosense.bus.consumer").bind(consumer=name)

    @property
    def in_flight(self) -> int:
        """Number of messages currently being handled or settled."""
        return len(self._in_flight)

    # ------------------------------------------------------------------------------ main loop

    async def run(self, stop: asyncio.Event) -> None:
        """Receive and handle messages until ``stop`` is set, then drain and return.

        On ``stop``: the in-progress long poll is cancelled at once, in-flight handlers get up
        to ``settings.drain_timeout_s`` to finish (their messages are settled normally), the
        rest are cancelled and their messages released (visibility 0) so that another worker
        picks them up immediately.

        Abandoning the long poll cannot lose a message for good: if SQS had already picked
        messages for that poll, they stay invisible until the visibility timeout ends and are
        then delivered again (at least once still holds, only later).

        Cancelling the task that runs this coroutine is a hard stop: handlers are cancelled
        and nothing more is sent to SQS, so in-flight messages reappear after their visibility
        timeout, as they would after a crash.

        Receive errors and handler errors are logged and never end the loop.

        Raises:
            asyncio.CancelledError: the task running the consumer was cancelled.
        """
        stop_wait = asyncio.create_task(stop.wait(), name=f"{self._name}-stop-wait")
        receive: asyncio.Task[list[MessageTypeDef]] | None = None
        receive_failures = 0
        self._log.info("consumer started", queue_url=self._queue_url)
        try:
            while not stop.is_set():
                free = self._settings.concurrency - len(self._in_flight)
                if free <= 0:
                    # Every slot busy: receive nothing (it would only sit invisible, unhandled)
                    # until a handler finishes or we are told to stop.
                    await asyncio.wait(
                        [*self._in_flight, stop_wait], return_when=asyncio.FIRST_COMPLETED
                    )
                    continue

                receive = asyncio.create_task(
                    self._receive(min(self._settings.batch_size, free)),
                    name=f"{self._name}-receive",
                )
                await asyncio.wait([receive, stop_wait], return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    # Stop requested mid long poll: abandon it rather than wait up to 20 s.
                    receive.cancel()
                    await asyncio.wait([receive])
                if receive.cancelled():
                    break
                error = receive.exception()
                if error is not None:
                    receive_failures += 1
                    delay = self._receive_backoff_s(receive_failures)
                    self._log.warning(
                        "receive failed; retrying",
                        error=f"{type(error).__name__}: {error}",
                        attempt=receive_failures,
                        retry_in_s=round(delay, 2),
                    )
                    await asyncio.wait([stop_wait], timeout=delay)
                    continue
                receive_failures = 0
                messages = receive.result()
                if stop.is_set():
                    # The poll returned just as we were told to stop: hand these straight back.
                    await self._release(m.get("ReceiptHandle", "") for m in messages)
                    break
                for message in messages:
                    self._spawn(message)
            await self._drain()
        finally:
            stop_wait.cancel()
            if receive is not None and not receive.done():
                receive.cancel()  # hard stop during a long poll
            await self._abandon_in_flight()
        self._log.info("consumer stopped")

    async def _receive(self, max_messages: int) -> list[MessageTypeDef]:
        response = await self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=self._settings.wait_time_s,
            # Our own visibility, not the queue's default: the heartbeat interval and the
            # drain logic are computed from it.
            VisibilityTimeout=self._settings.visibility_timeout_s,
            # AttributeNames is deprecated in favour of MessageSystemAttributeNames, but some
            # emulators still read only the old name; AWS accepts both.
            AttributeNames=["ApproximateReceiveCount"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _receive_backoff_s(self, failures: int) -> float:
        exponent = min(max(failures, 1) - 1, 16)
        nominal = min(_RECEIVE_BACKOFF_CAP_S, _RECEIVE_BACKOFF_BASE_S * 2.0**exponent)
        return nominal / 2 + self._rng.uniform(0, nominal / 2)

    def _spawn(self, message: MessageTypeDef) -> None:
        entry = _InFlight(
            receipt_handle=message.get("ReceiptHandle", ""),
            sqs_message_id=message.get("MessageId", ""),
        )
        task = asyncio.create_task(
            self._process(message, entry), name=f"{self._name}-{entry.sqs_message_id}"
        )
        self._in_flight[task] = entry
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)

    # --------------------------------------------------------------------------- one message

    async def _max_receives(self) -> int | None:
        try:
            return (await self._dlq.policy()).max_receive_count
        except NoDeadLetterQueueError:
            return None  # no redrive: SQS never dead-letters, so no delivery is the last
        except Exception as exc:
            # Unknown for now (SQS unreachable): handle as an ordinary delivery; the lookup is
            # tried again with the next message.
            self._log.warning("could not read the redrive policy", error=f"{exc}")
            return None

    async def _process(self, message: MessageTypeDef, entry: _InFlight) -> None:
        delivery = delivery_from_sqs(message, max_receives=await self._max_receives())
        context = log_context(delivery.attributes)
        with bound(**context, sqs_message_id=delivery.sqs_message_id):
            try:
                failure = await self._handle(delivery, entry)
                await self._settle(message, delivery, failure)
            except Exception:
                # Only a bug in this module gets here; it must not kill the task silently
                # (the message will simply come back after its visibility timeout).
                self._log.exception("internal error while processing a message")

    async def _handle(self, delivery: Delivery, entry: _InFlight) -> Exception | None:
        self._log.debug("message received", receive_count=delivery.receive_count)
        heartbeat = asyncio.create_task(self._heartbeat(entry.receipt_handle))
        try:
            await self._handler(delivery)
        except (PoisonMessage, RetryableError) as exc:
            return exc
        except Exception as exc:
            self._log.exception(
                "handler failed unexpectedly; will retry", receive_count=delivery.receive_count
            )
            return exc
        finally:
            entry.handling = False
            heartbeat.cancel()
            # asyncio.wait (not ``await heartbeat``) so a cancellation of *this* task is never
            # mistaken for the heartbeat's own and swallowed.
            await asyncio.wait([heartbeat])
        return None

    async def _heartbeat(self, receipt_handle: str) -> None:
        """Keep a message invisible while its handler runs, however long that takes."""
        visibility = self._settings.visibility_timeout_s
        # Half the window: one failed or slow extension still leaves time for the next.
        interval = visibility / 2
        while True:
            await asyncio.sleep(interval)
            try:
                await self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=receipt_handle,
                    VisibilityTimeout=visibility,
                )
            except Exception as exc:
                # Not fatal: the handler continues; at worst the message is handled twice,
                # which idempotent handlers tolerate. SQS also refuses to extend beyond 12 h
                # after the receive, which ends up here.
                self._log.warning("heartbeat failed", error=f"{type(exc).__name__}: {exc}")
            else:
                self._log.debug("visibility extended", visibility_timeout_s=visibility)

    async def _settle(
        self, message: MessageTypeDef, delivery: Delivery, failure: Exception | None
    ) -> None:
        receipt = message.get("ReceiptHandle", "")
        if failure is None:
            if await self._delete(receipt):
                self._log.info("message handled", receive_count=delivery.receive_count)
            return
        if isinstance(failure, PoisonMessage):
            await self._dead_letter(message, delivery, failure)
            return
        delay = self._retry_delay_s(delivery, failure)
        self._log.warning(
            "message will be retried",
            error=f"{type(failure).__name__}: {failure}",
            receive_count=delivery.receive_count,
            retry_in_s=delay,
        )
        await self._change_visibility(receipt, delay)

    def _retry_delay_s(self, delivery: Delivery, failure: Exception) -> int:
        cap = self._settings.max_retry_delay_s
        if isinstance(failure, RetryableError) and failure.retry_after_s is not None:
            return max(0, min(failure.retry_after_s, cap, SQS_MAX_VISIBILITY_S))
        return retry_delay_s(
            delivery.receive_count, base_s=self._retry_base_s, cap_s=cap, rng=self._rng
        )

    async def _dead_letter(
        self, message: MessageTypeDef, delivery: Delivery, failure: PoisonMessage
    ) -> None:
        receipt = message.get("ReceiptHandle", "")
        try:
            await self._dlq.send(message, failure.reason)
        except NoDeadLetterQueueError as exc:
            # Deleting would lose the message and retrying soon would spin on it: park it for
            # the longest retry delay and make the misconfiguration loud.
            self._log.error(
                "poison message but no dead-letter queue; parked",
                reason=failure.reason,
                error=str(exc),
                retry_in_s=self._settings.max_retry_delay_s,
            )
            await self._change_visibility(receipt, self._settings.max_retry_delay_s)
            return
        except Exception as exc:
            # DLQ unreachable: keep the message; it will be found poison again and re-sent.
            delay = self._retry_delay_s(delivery, exc)
            self._log.error(
                "could not dead-letter message; will retry",
                reason=failure.reason,
                error=f"{type(exc).__name__}: {exc}",
                retry_in_s=delay,
            )
            await self._change_visibility(receipt, delay)
            return
        # Sent first, deleted second: a crash in between leaves a duplicate, never a loss.
        await self._delete(receipt)
        self._log.warning("message dead-lettered", reason=failure.reason)

    # ---------------------------------------------------------------------------- SQS calls

    async def _delete(self, receipt_handle: str) -> bool:
        try:
            await self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt_handle)
        except Exception as exc:
            # The message will be delivered again; idempotent handlers make that harmless.
            self._log.error("delete failed", error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def _change_visibility(self, receipt_handle: str, timeout_s: int) -> None:
        try:
            await self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=timeout_s,
            )
        except Exception as exc:
            # The message then simply reappears when its current visibility window ends.
            self._log.warning(
                "could not change visibility",
                visibility_timeout_s=timeout_s,
                error=f"{type(exc).__name__}: {exc}",
            )

    async def _release(self, receipt_handles: Iterable[str]) -> None:
        """Make messages visible again at once so another worker can take them."""
        handles = [h for h in receipt_handles if h]
        if handles:
            await asyncio.gather(*(self._change_visibility(h, 0) for h in handles))
            self._log.info("messages released", count=len(handles))

    # ------------------------------------------------------------------------------ stopping

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        timeout = self._settings.drain_timeout_s
        self._log.info("draining", in_flight=len(self._in_flight), drain_timeout_s=timeout)
        _, pending = await asyncio.wait(list(self._in_flight), timeout=timeout)
        if not pending:
            return
        # Cancel the handlers still at work; messages already being settled finish settling
        # (one short SQS call) rather than being released half-deleted.
        to_release: list[str] = []
        for task in pending:
            entry = self._in_flight.get(task)
            if entry is not None and entry.handling:
                task.cancel()
                to_release.append(entry.receipt_handle)
        self._log.warning("drain timed out; cancelling handlers", cancelled=len(to_release))
        _, stuck = await asyncio.wait(pending, timeout=_CANCEL_GRACE_S)
        if stuck:
            self._log.error("tasks ignored cancellation", count=len(stuck))
        await self._release(to_release)

    async def _abandon_in_flight(self) -> None:
        # Reached with tasks left only on a hard stop (run() cancelled or a bug): cancel them
        # and send nothing to SQS, like a crash would.
        leftover = list(self._in_flight)
        if not leftover:
            return
        for task in leftover:
            task.cancel()
        self._log.warning("consumer cancelled; abandoning in-flight messages", count=len(leftover))
        await asyncio.wait(leftover, timeout=_CANCEL_GRACE_S)


def install_stop_signals(stop: asyncio.Event) -> None:
    """Make SIGTERM (ECS, docker stop) and SIGINT (Ctrl-C) set ``stop``.

    Must be called from the main thread with the event loop running.

    Raises:
        RuntimeError: no event loop is running.
        ValueError: called from a thread other than the main thread.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:
            # Event loops without add_signal_handler (Windows): the handler runs between
            # bytecodes of the main thread, so it hands over to the loop thread-safely.
            signal.signal(sig, lambda _signum, _frame: loop.call_soon_threadsafe(stop.set))


async def queue_url(sqs: SQSClient, common: CommonSettings, logical: str) -> str:
    """Return the URL of the logical queue ``logical`` (e.g. ``"ingest"``).

    Raises:
        botocore.exceptions.ClientError: the queue does not exist
            (``AWS.SimpleQueueService.NonExistentQueue``) or access is denied.
    """
    response = await sqs.get_queue_url(QueueName=common.queue_name(logical))
    return response["QueueUrl"]
