"""Wiring of the aggregator: settings, clients, handler, queue."""

from __future__ import annotations

from datetime import timedelta

from aggregator.handler import Aggregator
from aggregator.settings import AggregatorSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.completion import Completion
from videosense_shared.runtime import ServiceSpec
from videosense_shared.store import DocumentStore
from videosense_shared.topology import AGGREGATOR


def service(settings: AggregatorSettings | None = None) -> ServiceSpec:
    """The aggregator's service spec (settings from the environment unless given)."""
    cfg = settings or AggregatorSettings()

    def make_handler(aws: AwsClients) -> Handler:
        common = cfg.common
        store = DocumentStore(aws.dynamodb, common.table_name)
        completion = Completion(
            store,
            aws.s3,
            Publisher(aws.sns, aws.sts, common),
            common.bucket,
            lease=timedelta(seconds=cfg.completion_lease_s),
        )
        return Aggregator(store, completion, aws.s3).handle

    return ServiceSpec(name="aggregator", queue=AGGREGATOR, settings=cfg, make_handler=make_handler)
