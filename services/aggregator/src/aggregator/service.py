"""Wiring of the aggregator: settings, clients, handler, queue, deadline sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aggregator.deadline import DeadlineSweeper
from aggregator.handler import Aggregator
from aggregator.settings import AggregatorSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.completion import Completion
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import AGGREGATOR_SERVICE
from videosense_shared.store import DynamoDocumentStore


def service(settings: AggregatorSettings | None = None) -> ServiceSpec:
    """The aggregator's service spec (settings from the environment unless given)."""
    cfg = settings or AggregatorSettings()
    lease = timedelta(seconds=cfg.completion_lease_s)

    def wire(aws: AwsClients) -> tuple[DynamoDocumentStore, Completion]:
        common = cfg.common
        store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        publisher = Publisher(aws.sns, aws.sts, common)
        return store, Completion(store, aws.s3, publisher, common.bucket, lease=lease)

    def make_handler(aws: AwsClients) -> Handler:
        store, completion = wire(aws)
        return Aggregator(store, completion, aws.s3).handle

    async def sweep_deadlines(aws: AwsClients, stop: asyncio.Event) -> None:
        store, completion = wire(aws)
        # A completion in progress holds its lease: only after it expired is it abandoned.
        sweeper = DeadlineSweeper(store, completion, cfg.deadline, grace=lease)
        await sweeper.run(stop, cfg.deadline_sweep_interval_s)

    return ServiceSpec.of(
        AGGREGATOR_SERVICE, settings=cfg, make_handler=make_handler, background=sweep_deadlines
    )
