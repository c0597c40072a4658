"""Wiring of the recognizer: settings, clients, backend, handler, queue."""

from __future__ import annotations

from recognizer.backends import make_backend
from recognizer.handler import Recognizer
from recognizer.settings import RecognizerSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import RECOGNIZER_SERVICE


def service(settings: RecognizerSettings | None = None) -> ServiceSpec:
    """The recognizer's service spec (settings from the environment unless given)."""
    cfg = settings or RecognizerSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        return Recognizer(aws.s3, publisher, make_backend(cfg, aws), cfg).handle

    return ServiceSpec.of(RECOGNIZER_SERVICE, settings=cfg, make_handler=make_handler)
