"""Wiring of the captioner: settings, clients, backend, handler, queue."""

from __future__ import annotations

from captioner.backends import make_backend
from captioner.handler import Captioner
from captioner.settings import CaptionerSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import CAPTIONER_SERVICE


def service(settings: CaptionerSettings | None = None) -> ServiceSpec:
    """The captioner's service spec (settings from the environment unless given)."""
    cfg = settings or CaptionerSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        return Captioner(aws.s3, publisher, cfg, make_backend(cfg, aws)).handle

    return ServiceSpec.of(CAPTIONER_SERVICE, settings=cfg, make_handler=make_handler)
