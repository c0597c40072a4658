"""Every service process runs with glibc's allocator limits (``videosense_shared.memory``):
in compose, in the ECS task definitions (both from ``service_environment``) and in its image."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ROOT
from videosense_deploy.compose import LOCAL
from videosense_deploy.environment import Deployment, service_environment
from videosense_deploy.services import SERVICES, ServiceDef, deployable
from videosense_shared.memory import MALLOC_ENV

DEPLOYED = deployable(ROOT, SERVICES)
AWS = Deployment(prefix="videosense-prod", bucket="media", table="", region="eu-west-1")


@pytest.mark.parametrize("service", DEPLOYED, ids=lambda s: s.name)
@pytest.mark.parametrize("deployment", [LOCAL, AWS], ids=["compose", "ecs"])
def test_service_environment_sets_the_malloc_limits(
    service: ServiceDef, deployment: Deployment
) -> None:
    # GIVEN a service as compose or the CDK stack deploys it
    backend = service.local_backend if service.backends else None
    # WHEN its environment is generated
    env = service_environment(service, deployment, DEPLOYED, backend)
    # THEN glibc reads the arena limit and the mmap threshold from it at start
    assert {k: env[k] for k in MALLOC_ENV} == dict(MALLOC_ENV)


@pytest.mark.parametrize("service", DEPLOYED, ids=lambda s: s.name)
def test_committed_compose_file_sets_the_malloc_limits(service: ServiceDef) -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"][service.name]["environment"]
    assert {k: env[k] for k in MALLOC_ENV} == dict(MALLOC_ENV)


@pytest.mark.parametrize("service", DEPLOYED, ids=lambda s: s.name)
def test_service_image_sets_the_malloc_limits(service: ServiceDef) -> None:
    # GIVEN the service's Dockerfile WHEN its ENV lines are read THEN they set both limits
    lines = (ROOT / service.dockerfile).read_text().splitlines()
    words = [w for line in lines if line.startswith("ENV ") for w in line.split()[1:]]
    assert {f"{k}={v}" for k, v in MALLOC_ENV.items()} <= set(words)
