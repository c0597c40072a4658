"""Wiring a service to its queue: the same path for ``python -m <service>`` and for the
in-process stack of ``videosense run``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from videosense_shared.aws import AwsClients
from videosense_shared.bus import Consumer, Handler, install_stop_signals, queue_url
from videosense_shared.logs import configure_logging, get_logger
from videosense_shared.messages import Stage
from videosense_shared.services import ServiceInfo, service_info
from videosense_shared.settings import ConsumerSettings

log = get_logger(__name__)


Background = Callable[[AwsClients, asyncio.Event], Awaitable[None]]
"""Periodic work a service runs beside its consumer until the stop event is set."""


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is: its name, the queue it owns, its settings, how to build its handler,
    the analysis stage it provides (if any), and background work to run beside the consumer
    (if any; it must return soon after ``stop`` is set).

    Build it with :meth:`of` from the service's registry entry
    (:mod:`videosense_shared.services`): name, queue and stage are declared there once.

    Raises:
        ValueError: the name is registered with another queue or stage.
    """

    name: str
    queue: str
    settings: ConsumerSettings
    make_handler: Callable[[AwsClients], Handler]
    stage: Stage | None = None
    background: Background | None = None

    def __post_init__(self) -> None:
        # A service not in the registry (an experiment run beside the built-in ones) declares its
        # own; a registered one may not contradict its entry.
        try:
            info = service_info(self.name)
        except KeyError:
            return
        if (self.queue, self.stage) != (info.queue, info.stage):
            raise ValueError(
                f"service {self.name!r}: queue {self.queue!r} and stage {self.stage} contradict "
                f"the registry (queue {info.queue!r}, stage {info.stage})"
            )

    @classmethod
    def of(
        cls,
        info: ServiceInfo,
        *,
        settings: ConsumerSettings,
        make_handler: Callable[[AwsClients], Handler],
        background: Background | None = None,
    ) -> ServiceSpec:
        """The spec of the registered service ``info``."""
        return cls(
            name=info.name,
            queue=info.queue,
            settings=settings,
            make_handler=make_handler,
            stage=info.stage,
            background=background,
        )


async def serve(spec: ServiceSpec, aws: AwsClients, stop: asyncio.Event) -> None:
    """Consume the service's queue until ``stop`` is set, then drain.

    Raises:
        botocore.exceptions.ClientError: the queue does not exist (not provisioned).
    """
    url = await queue_url(aws.sqs, spec.settings.common, spec.queue)
    consumer = Consumer(aws.sqs, url, spec.make_handler(aws), spec.settings, name=spec.name)
    log.info("service started", service=spec.name, queue=url)
    if spec.background is None:
        await consumer.run(stop)
    else:
        await asyncio.gather(consumer.run(stop), spec.background(aws, stop))
    log.info("service stopped", service=spec.name)


def run_main(load: Callable[[], ServiceSpec]) -> None:
    """Entry point of ``python -m <service>``: settings from the environment, JSON logs,
    SIGTERM/SIGINT drain."""
    spec = load()
    common = spec.settings.common
    configure_logging(common.log_level, common.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        async with AwsClients(common.region, pool=spec.settings.concurrency + 10) as aws:
            await serve(spec, aws, stop)

    asyncio.run(_main())
