"""Wiring of the transcriber: settings, clients, backend, handler, queue."""

from __future__ import annotations

from transcriber.backends import make_backend
from transcriber.handler import Transcriber
from transcriber.settings import TranscriberSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import TRANSCRIBER_SERVICE


def service(settings: TranscriberSettings | None = None) -> ServiceSpec:
    """The transcriber's service spec (settings from the environment unless given)."""
    cfg = settings or TranscriberSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        backends = make_backend(cfg, aws)
        return Transcriber(aws.s3, cfg.common.bucket, publisher, backends).handle

    return ServiceSpec.of(TRANSCRIBER_SERVICE, settings=cfg, make_handler=make_handler)
