"""Wiring of the frame extractor: settings, clients, handler, queue."""

from __future__ import annotations

from frame_extractor.handler import FrameExtractor
from frame_extractor.settings import FrameExtractorSettings
from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler, Publisher
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import FRAME_EXTRACTOR_SERVICE


def service(settings: FrameExtractorSettings | None = None) -> ServiceSpec:
    """The frame extractor's service spec (settings from the environment unless given)."""
    cfg = settings or FrameExtractorSettings()

    def make_handler(aws: AwsClients) -> Handler:
        publisher = Publisher(aws.sns, aws.sts, cfg.common)
        return FrameExtractor(aws.s3, publisher, cfg).handle

    return ServiceSpec.of(FRAME_EXTRACTOR_SERVICE, settings=cfg, make_handler=make_handler)
