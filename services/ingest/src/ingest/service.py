"""Wiring of ingest: settings, clients, handler, queue."""

from __future__ import annotations

from ingest.handler import Ingest
from ingest.settings import IngestSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.completion import Completion
from videosense_shared.messages import Stage
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import INGEST_SERVICE
from videosense_shared.store import DynamoDocumentStore


def service(settings: IngestSettings | None = None) -> ServiceSpec:
    """Ingest's service spec (settings from the environment unless given)."""
    cfg = settings or IngestSettings()

    def make_handler(aws: AwsClients) -> Handler:
        common = cfg.common
        store = DynamoDocumentStore(aws.dynamodb, common.table_name)
        publisher = Publisher(aws.sns, aws.sts, common)
        completion = Completion(store, aws.s3, publisher, common.bucket)
        return Ingest(aws.s3, store, publisher, completion, cfg).handle

    return ServiceSpec.of(INGEST_SERVICE, settings=cfg, make_handler=make_handler)


def service_for(stages: tuple[Stage, ...]) -> ServiceSpec:
    """Ingest accepting exactly ``stages`` (the ones whose services run alongside it)."""
    return service(IngestSettings(available_stages=",".join(s.value for s in stages)))
