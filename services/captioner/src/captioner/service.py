"""Wiring of the captioner: settings, clients, backend, handler, queue."""

from __future__ import annotations

from captioner.backend import CaptionBackend
from captioner.backends import BackendLoader, open_backend
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

        async def opener() -> CaptionBackend:
            return await open_backend(cfg, aws)

        return Captioner(aws.s3, publisher, cfg, BackendLoader(opener)).handle

    return ServiceSpec.of(CAPTIONER_SERVICE, settings=cfg, make_handler=make_handler)
