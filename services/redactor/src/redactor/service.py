"""Wiring of the redactor: settings, clients, backend, handler, queue."""

from __future__ import annotations

from redactor.backends import make_backend
from redactor.handler import Redactor
from redactor.settings import RedactorSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import REDACTOR_SERVICE


def service(settings: RedactorSettings | None = None) -> ServiceSpec:
    """The redactor's service spec (settings from the environment unless given)."""
    cfg = settings or RedactorSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        return Redactor(aws.s3, publisher, make_backend(cfg, aws), cfg).handle

    return ServiceSpec.of(REDACTOR_SERVICE, settings=cfg, make_handler=make_handler)
