"""The environment each service reads, the same for docker compose and ECS.

Values are strings; in compose they may be ``${VAR:-default}`` interpolations, in the CDK stack
CloudFormation tokens. What a service reads is defined by its settings classes
(:class:`videosense_shared.settings.CommonSettings` and its own ``VIDEOSENSE_<SERVICE>_``
settings): the deploy tests check every name here against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from videosense_deploy.services import ServiceDef
from videosense_shared import stages as stage_rules
from videosense_shared.layout import UPLOADS_PREFIX
from videosense_shared.memory import MALLOC_ENV
from videosense_shared.services import INGEST_SERVICE
from videosense_shared.stages import available_stages


@dataclass(frozen=True)
class Deployment:
    """Physical names and choices of one deployment (a compose project or a CDK stack)."""

    prefix: str
    bucket: str
    table: str  # empty: the services name it from the prefix (CommonSettings.table_name)
    region: str
    uploads_prefix: str = UPLOADS_PREFIX
    log_level: str = "INFO"
    log_format: str = "json"
    # The VIDEOSENSE_SEARCH_ settings of the services that use the search index (a SQLite file
    # on a volume in compose, the OpenSearch domain in the CDK stack).
    search: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def common_environment(deployment: Deployment) -> dict[str, str]:
    """The shared ``VIDEOSENSE_`` settings (CommonSettings) of ``deployment``."""
    return {
        "VIDEOSENSE_PREFIX": deployment.prefix,
        "VIDEOSENSE_BUCKET": deployment.bucket,
        "VIDEOSENSE_TABLE": deployment.table,
        "VIDEOSENSE_REGION": deployment.region,
        "VIDEOSENSE_UPLOADS_PREFIX": deployment.uploads_prefix,
        "VIDEOSENSE_LOG_LEVEL": deployment.log_level,
        "VIDEOSENSE_LOG_FORMAT": deployment.log_format,
    }


def service_environment(
    service: ServiceDef,
    deployment: Deployment,
    deployed: tuple[ServiceDef, ...],
    backend: str | None = None,
) -> dict[str, str]:
    """Everything ``service`` reads, as it runs among ``deployed`` with ``backend``.

    Raises:
        KeyError: ``backend`` is not one of the service's backends.
        ValueError: a backend is given for a service without backends, or none for one with.
    """
    if service.backends and backend is None:
        raise ValueError(f"{service.name} needs a backend ({_names(service)})")
    if not service.backends and backend is not None:
        raise ValueError(f"{service.name} has no backend setting")
    own = service.env_prefix
    env = common_environment(deployment)
    env.update(
        {
            # The consumer's visibility window is the queue's, as the topology declares it.
            f"{own}VISIBILITY_TIMEOUT_S": str(service.visibility_timeout_s),
            f"{own}DRAIN_TIMEOUT_S": str(service.drain_timeout_s),
            f"{own}CONCURRENCY": str(service.concurrency_with(backend)),
        }
    )
    if backend is not None:
        env[f"{own}BACKEND"] = service.backend(backend).name
    if service.info == INGEST_SERVICE:
        # Ingest accepts exactly the stages whose services run next to it.
        available = available_stages(d.stage for d in deployed)
        env[f"{own}AVAILABLE_STAGES"] = ",".join(s.value for s in available)
        env[f"{own}STAGES"] = ",".join(
            s.value for s in available if s not in stage_rules.ON_REQUEST_STAGES
        )
    if service.search_access is not None:
        env.update(deployment.search)
    # glibc's allocator: fewer arenas, large blocks returned when freed (see
    # videosense_shared.memory for what they kept resident before).
    env.update(MALLOC_ENV)
    env.update(service.extra_env)
    return env


def _names(service: ServiceDef) -> str:
    return ", ".join(b.name for b in service.backends)
