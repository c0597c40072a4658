"""Fixtures of the deploy tests: the CDK app synthesized once per session, offline.

Two stacks are synthesized in one app: ``deployed`` is exactly what ``make synth`` builds (the
services whose Dockerfile exists, images built from those Dockerfiles); ``every`` holds every
service of the table with registry images and non-default options, so IAM and scaling
assertions do not depend on which services happen to have a Dockerfile yet.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner for Node 20 (end of life); synthesis works the same on it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs

from videosense_deploy.services import SERVICES, ServiceDef, deployable, repo_root
from videosense_deploy.stack import StackConfig, VideosenseStack

ROOT = repo_root()

#: Options of the ``every`` stack: not the defaults, so the tests see them applied.
EVERY_CONFIG = StackConfig(
    env_name="ci",
    min_tasks=1,
    max_tasks=7,
    spot=False,
    backends={
        "captioner": "sagemaker",
        "transcriber": "transcribe",
        "recognizer": "rekognition",
        "redactor": "rekognition",
    },
)


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: its template, its services and where the assembly is."""

    template: dict[str, Any]
    services: tuple[ServiceDef, ...]
    config: StackConfig
    outdir: Path
    stack_name: str

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for every resource of CloudFormation type ``kind``."""
        return {
            name: res for name, res in self.template["Resources"].items() if res["Type"] == kind
        }

    def environment(self, container: str) -> dict[str, Any]:
        """The environment of the task container named ``container`` (a service's name)."""
        for task in self.resources("AWS::ECS::TaskDefinition").values():
            for definition in task["Properties"]["ContainerDefinitions"]:
                if definition["Name"] == container:
                    return {e["Name"]: e["Value"] for e in definition["Environment"]}
        raise AssertionError(f"no container {container}")


def registry_image(service: ServiceDef) -> ecs.ContainerImage:
    """A prebuilt image: synthesis stages no Dockerfile build."""
    return ecs.ContainerImage.from_registry(f"registry.example/videosense/{service.package}:1.0")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Both stacks, synthesized into a temporary cloud assembly with no network and no AWS."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))
    deployed_services = deployable(ROOT, SERVICES)
    deployed_config = StackConfig()
    VideosenseStack(app, "videosense-dev", config=deployed_config, services=deployed_services)
    VideosenseStack(
        app, "videosense-ci", config=EVERY_CONFIG, services=SERVICES, image_for=registry_image
    )
    app.synth()
    out = {}
    for key, name, services, config in (
        ("deployed", "videosense-dev", deployed_services, deployed_config),
        ("every", "videosense-ci", SERVICES, EVERY_CONFIG),
    ):
        template = json.loads((outdir / f"{name}.template.json").read_text())
        out[key] = Synthesized(template, services, config, outdir, name)
    return out


@pytest.fixture(scope="session")
def deployed(synthesized: dict[str, Synthesized]) -> Synthesized:
    """The stack ``make synth`` builds."""
    return synthesized["deployed"]


@pytest.fixture(scope="session")
def every(synthesized: dict[str, Synthesized]) -> Synthesized:
    """A stack with every service of the table."""
    return synthesized["every"]
