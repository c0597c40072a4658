"""The stage-worker shape every analysis service runs (docs/architecture.md, "The stage worker").

A stage's own code is one function, ``process(message, attempt) -> outputs``: it does the work
and returns the messages to publish on the stage's topic, or raises :class:`StageError` when the
video cannot get this stage's result. Everything around it lives here, once:

- parse the delivery into the stage's input type (invalid -> dead-letter queue with a reason);
- skip inputs for videos that did not request the stage;
- bind ``video_id``/``trace_id`` (and the chunk, for chunked inputs) to every log line;
- publish the outputs, or a ``StageFailed`` carrying :class:`StageError`'s reason;
- the give-up rule: on the last delivery SQS allows before dead-lettering (the queue's redrive
  ``maxReceiveCount``), the work is not tried again and ``StageFailed`` ("gave up after N
  deliveries: <last error>") goes out instead. Not trying is deliberate: a message that killed
  its worker every time (out of memory, a decoder crash, a node that keeps being replaced) would
  kill it once more, and then nothing would ever tell the document why the stage ended.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, TypeAdapter

from videosense_shared.bus.envelope import Delivery, parse_typed
from videosense_shared.bus.publisher import Publisher
from videosense_shared.ids import message_id_for
from videosense_shared.logs import bound, get_logger
from videosense_shared.messages import Stage, StageFailed
from videosense_shared.topology import STAGE_TOPICS

log = get_logger(__name__)

# Last errors remembered per input message, for the give-up reason. Bounded: a worker handles
# an unbounded stream of messages, and only recent failures can still reach their last delivery.
_REMEMBERED_ERRORS = 1024
_MAX_ERROR_CHARS = 500

#: What the give-up reason says when no error was seen in this process: the usual cause is that
#: the worker died while handling the message, which leaves no exception to report.
CRASHED = "the worker stopped while handling it (crashed, ran out of memory or was killed)"


class StageInput(Protocol):
    """What every stage input message carries (``VideoIngested``, ``FramesExtracted``)."""

    @property
    def message_id(self) -> str: ...
    @property
    def video_id(self) -> str: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def stages(self) -> tuple[Stage, ...]: ...


In = TypeVar("In", bound=StageInput)


class StageError(Exception):
    """This video cannot get the stage's result; ``reason`` is readable.

    ``skipped`` marks a stage that has nothing to do (a video without audio has no transcript)
    rather than one that failed.
    """

    def __init__(self, reason: str, *, skipped: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.skipped = skipped


@dataclass(frozen=True)
class Attempt:
    """Which delivery of the input this is: ``number`` starts at 1; ``max_deliveries`` is the
    queue's redrive limit (``None`` without a dead-letter queue)."""

    number: int
    max_deliveries: int | None

    @property
    def left(self) -> int | None:
        """Deliveries still to come after this one that may run the work (the last delivery
        only gives up), or ``None`` when unbounded."""
        if self.max_deliveries is None:
            return None
        return max(0, self.max_deliveries - 1 - self.number)


Process = Callable[[In, Attempt], Awaitable[Sequence[BaseModel]]]


def give_up_reason(failed_deliveries: int, last_error: str | None) -> str:
    """The readable reason a stage (or ingest) gives when it stops retrying a message."""
    return f"gave up after {failed_deliveries} deliveries: {last_error or CRASHED}"


class LastErrors:
    """The last error seen per message, so a give-up can say what kept failing.

    Kept in memory: after a crash there is no error to tell anyway (:data:`CRASHED` says so),
    and a worker that saw the error itself usually gets the message again.
    """

    def __init__(self, capacity: int = _REMEMBERED_ERRORS) -> None:
        self._capacity = capacity
        self._errors: OrderedDict[str, str] = OrderedDict()

    def remember(self, key: str, err: BaseException) -> None:
        """Record ``err`` as the latest failure of the message ``key``."""
        text = str(err) or type(err).__name__
        self._errors[key] = text[:_MAX_ERROR_CHARS]
        self._errors.move_to_end(key)
        while len(self._errors) > self._capacity:
            self._errors.popitem(last=False)

    def pop(self, key: str) -> str | None:
        """Forget the message ``key``; return its last error if one was recorded."""
        return self._errors.pop(key, None)


class StageWorker(Generic[In]):
    """Runs one stage's ``process`` for every delivery of its input messages.

    ``backend`` names what ran (it is recorded with a ``StageFailed``); ``chunked`` adds the
    input's ``chunk_index`` to the log context.
    """

    def __init__(
        self,
        *,
        stage: Stage,
        topic: str,
        input_type: type[In],
        publisher: Publisher,
        process: Process[In],
        backend: str | None,
    ) -> None:
        self.stage = stage
        self._topic = topic
        self._adapter: TypeAdapter[In] = TypeAdapter(input_type)
        self._publisher = publisher
        self._process = process
        self._backend = backend
        self._last_errors = LastErrors()

    async def handle(self, delivery: Delivery) -> None:
        """Consume one delivery of the stage's input.

        Raises:
            PoisonMessage: the body is not a valid input message.
            RetryableError: transient trouble (raised by ``process``); the message comes back.
            Exception: anything else ``process`` raised is retried the same way.
        """
        message = parse_typed(delivery, self._adapter)
        if self.stage not in message.stages:
            return
        context = {"video_id": message.video_id, "trace_id": message.trace_id}
        chunk = getattr(message, "chunk_index", None)
        if chunk is not None:
            context["chunk"] = str(chunk)
        with bound(**context):
            if delivery.is_last:
                last = self._last_errors.pop(message.message_id)
                await self.fail(message, give_up_reason(delivery.receive_count - 1, last))
                return
            attempt = Attempt(delivery.receive_count, delivery.max_receives)
            try:
                try:
                    outputs = await self._process(message, attempt)
                except StageError as err:
                    await self.fail(message, err.reason, skipped=err.skipped)
                else:
                    for output in outputs:
                        await self._publisher.publish(self._topic, output)
            except Exception as err:
                self._last_errors.remember(message.message_id, err)
                raise
            self._last_errors.pop(message.message_id)

    async def fail(self, message: In, reason: str, *, skipped: bool = False) -> None:
        """Publish the stage's ``StageFailed`` for ``message`` (deterministic id: a repeat is a
        duplicate the aggregator drops)."""
        log.warning(
            f"{self.stage.value} skipped" if skipped else f"{self.stage.value} failed",
            reason=reason,
        )
        await self._publisher.publish(
            self._topic,
            StageFailed(
                message_id=message_id_for(message.message_id, "StageFailed", self.stage.value),
                video_id=message.video_id,
                trace_id=message.trace_id,
                stage=self.stage,
                error=reason,
                backend=self._backend,
                skipped=skipped,
            ),
        )


class StageHandler(Generic[In]):
    """Base of a stage service's handler class: ``handle`` runs the subclass's ``process`` on a
    :class:`StageWorker`, which publishes on the stage's own topic."""

    def __init__(
        self, stage: Stage, input_type: type[In], publisher: Publisher, *, backend: str | None
    ) -> None:
        self._worker = StageWorker(
            stage=stage,
            topic=STAGE_TOPICS[stage.value],
            input_type=input_type,
            publisher=publisher,
            process=self.process,
            backend=backend,
        )

    async def handle(self, delivery: Delivery) -> None:
        """Consume one delivery of the stage's input (see :class:`StageWorker`).

        Raises:
            PoisonMessage: the body is not a valid input message.
            RetryableError: transient trouble; the message comes back later.
        """
        await self._worker.handle(delivery)

    async def process(self, message: In, attempt: Attempt | None = None) -> Sequence[BaseModel]:
        """The stage's own work: the messages to publish for ``message``.

        Raises:
            StageError: this video cannot get the stage's result.
            RetryableError: transient trouble.
        """
        raise NotImplementedError
