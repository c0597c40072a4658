"""Wiring of the clipper: settings, clients, handler, queue."""

from __future__ import annotations

from clipper.handler import Clipper
from clipper.settings import ClipperSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import CLIPPER_SERVICE


def service(settings: ClipperSettings | None = None) -> ServiceSpec:
    """The clipper's service spec (settings from the environment unless given)."""
    cfg = settings or ClipperSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        return Clipper(aws.s3, cfg.common.bucket, publisher, cfg).handle

    return ServiceSpec.of(CLIPPER_SERVICE, settings=cfg, make_handler=make_handler)
