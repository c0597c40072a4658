"""The service registry: each service's name, package, queue and stage, declared once.

A service's :class:`~videosense_shared.runtime.ServiceSpec` (how it runs, in
``services/<package>/src/<package>/service.py``) and the deployment's service table
(``deploy/videosense_deploy/services.py``: resources, permissions, image) are both built from
these entries. This module imports only the topology and the message types, so the deployment
reads it without importing any service (and its models). See ``docs/architecture.md``.

Adding a service: an entry here, its queue in :data:`~videosense_shared.topology.TOPOLOGY`, its
package under ``services/``, and its row in the deployment's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from videosense_shared.messages import Stage
from videosense_shared.topology import (
    AGGREGATOR,
    CAPTIONER,
    CLIPPER,
    FRAME_EXTRACTOR,
    INDEXER,
    INGEST,
    RECOGNIZER,
    REDACTOR,
    TRANSCRIBER,
)


@dataclass(frozen=True)
class ServiceInfo:
    """Who a service is: what the runtime and the deployment both need to know."""

    name: str  # log, compose service and ECS service name
    package: str  # `python -m <package>`; lives in services/<package>/
    queue: str  # the one TOPOLOGY queue it consumes
    stage: Stage | None = None  # the analysis stage it provides; None: none (ingest, aggregator)


INGEST_SERVICE = ServiceInfo(name="ingest", package="ingest", queue=INGEST)
FRAME_EXTRACTOR_SERVICE = ServiceInfo(
    name="frame-extractor", package="frame_extractor", queue=FRAME_EXTRACTOR, stage=Stage.FRAMES
)
TRANSCRIBER_SERVICE = ServiceInfo(
    name="transcriber", package="transcriber", queue=TRANSCRIBER, stage=Stage.TRANSCRIPT
)
CAPTIONER_SERVICE = ServiceInfo(
    name="captioner", package="captioner", queue=CAPTIONER, stage=Stage.CAPTIONS
)
RECOGNIZER_SERVICE = ServiceInfo(
    name="recognizer", package="recognizer", queue=RECOGNIZER, stage=Stage.RECOGNITION
)
AGGREGATOR_SERVICE = ServiceInfo(name="aggregator", package="aggregator", queue=AGGREGATOR)
CLIPPER_SERVICE = ServiceInfo(name="clipper", package="clipper", queue=CLIPPER)
REDACTOR_SERVICE = ServiceInfo(
    name="redactor", package="redactor", queue=REDACTOR, stage=Stage.REDACTION
)
INDEXER_SERVICE = ServiceInfo(name="indexer", package="indexer", queue=INDEXER)

#: Every service of the pipeline, in the order a video meets them.
REGISTRY: tuple[ServiceInfo, ...] = (
    INGEST_SERVICE,
    FRAME_EXTRACTOR_SERVICE,
    TRANSCRIBER_SERVICE,
    CAPTIONER_SERVICE,
    RECOGNIZER_SERVICE,
    AGGREGATOR_SERVICE,
    CLIPPER_SERVICE,
    REDACTOR_SERVICE,
    INDEXER_SERVICE,
)


def service_info(name: str) -> ServiceInfo:
    """The registered service called ``name``.

    Raises:
        KeyError: no service of that name is registered.
    """
    for info in REGISTRY:
        if info.name == name:
            return info
    raise KeyError(f"no service {name!r} in the registry")
