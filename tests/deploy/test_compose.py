"""Static checks of docker-compose.yml and the service Dockerfiles (no Docker engine here).

The compose file is checked three ways: against the compose-spec JSON schema (vendored by
check-jsonschema), by the real ``docker-compose`` binary's ``config`` (parsing, interpolation,
profiles; it needs no engine), and against the code: entry points, settings, pins.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from tests.deploy.conftest import ROOT
from videosense_deploy.compose import LOCALSTACK_IMAGE, render
from videosense_deploy.services import SERVICES, ServiceDef, deployable
from videosense_deploy.web import WEB_NAME
from videosense_shared.settings import CommonSettings

COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOYED = deployable(ROOT, SERVICES)
SERVICE_IDS = [pytest.param(s, id=s.name) for s in DEPLOYED]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The committed compose file, parsed."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _compose_spec_schema() -> dict[str, Any]:
    # The compose-spec schema that check-jsonschema vendors (its "vendor.compose-spec").
    path = (
        importlib.resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    )
    schema = json.loads(path.read_text())
    assert isinstance(schema, dict)
    return schema


def _interpolate(value: str, host: dict[str, str] | None = None) -> str:
    # ${VAR:-default} -> the host's VAR if set, else default, as compose does.
    given = host or {}
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: given.get(m.group(1), m.group(2)), value)


def test_compose_file_is_generated_from_the_table() -> None:
    # GIVEN the service table and the Dockerfiles that exist WHEN rendered THEN the committed
    # file is exactly that (regenerate with `python -m videosense_deploy.compose`).
    assert COMPOSE_FILE.read_text() == render(DEPLOYED)


def test_compose_file_matches_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    # GIVEN the compose-spec schema WHEN validating THEN no error.
    schema = _compose_spec_schema()
    jsonschema.validate(compose, schema)


def test_schema_check_catches_a_broken_file(compose: dict[str, Any]) -> None:
    # GIVEN a compose file with an unknown service key WHEN validating THEN it is refused
    # (so the test above can fail).
    broken = json.loads(json.dumps(compose))
    broken["services"]["ingest"]["stop_grace"] = "60s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _compose_spec_schema())


@pytest.mark.parametrize(
    ("profile", "emulator", "absent"),
    [
        pytest.param("localstack", "localstack", "moto", id="localstack"),
        pytest.param("moto", "moto", "localstack", id="moto"),
    ],
)
def test_docker_compose_accepts_each_profile(profile: str, emulator: str, absent: str) -> None:
    # GIVEN the real docker-compose binary WHEN it resolves the file under a profile THEN it
    # is valid, and that profile runs exactly one emulator plus provisioning and the services.
    base = [str(BIN / "docker-compose"), "-f", str(COMPOSE_FILE), "--profile", profile]
    check = subprocess.run([*base, "config", "--quiet"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    listed = subprocess.run(
        [*base, "config", "--services"], capture_output=True, text=True, timeout=60
    )
    names = set(listed.stdout.split())
    assert names == {emulator, "provision", WEB_NAME, *(s.name for s in DEPLOYED)}
    assert absent not in names


def test_localstack_is_a_community_tag_with_token_passthrough(compose: dict[str, Any]) -> None:
    # GIVEN the LocalStack service WHEN read THEN pinned to 4.14.0, token passed through.
    localstack = compose["services"]["localstack"]
    assert localstack["image"] == LOCALSTACK_IMAGE == "localstack/localstack:4.14.0"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    # GIVEN every pulled image in compose and every Dockerfile base WHEN read THEN an explicit
    # version tag, never latest (images built here are named ...:local).
    services = compose["services"].values()
    images = [s["image"] for s in services if "image" in s and "build" not in s]
    built = [s["image"] for s in services if "build" in s]
    assert all(i.startswith("videosense/") and i.endswith(":local") for i in built), built
    for service in DEPLOYED:
        text = (ROOT / service.dockerfile).read_text()
        images += re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name, image
        assert tag, image
        assert "/" not in tag, image  # a registry port, not a tag
        assert tag != "latest", image
        assert re.search(r"\d", tag), image


def test_provisioning_runs_the_real_provisioner_after_the_emulator(
    compose: dict[str, Any],
) -> None:
    # GIVEN the init step WHEN read THEN it runs videosense_shared.provision, after whichever
    # emulator is healthy, once.
    provision = compose["services"]["provision"]
    assert provision["command"] == ["python", "-m", "videosense_shared.provision"]
    importlib.import_module("videosense_shared.provision")
    assert provision["depends_on"] == {
        "localstack": {"condition": "service_healthy", "required": False},
        "moto": {"condition": "service_healthy", "required": False},
    }
    assert provision["restart"] == "no"


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_service_builds_its_own_dockerfile_and_runs_its_entry_point(
    compose: dict[str, Any], service: ServiceDef
) -> None:
    # GIVEN a compose service WHEN read THEN its context and Dockerfile exist, its command is
    # the Dockerfile's CMD and `python -m <package>` of a module that exists, and it starts
    # after provisioning and drains within its grace period.
    entry = compose["services"][service.name]
    context = ROOT / entry["build"]["context"]
    dockerfile = context / entry["build"]["dockerfile"]
    assert context.is_dir()
    assert dockerfile.is_file()
    assert dockerfile == ROOT / service.dockerfile
    assert entry["command"] == ["python", "-m", service.package]
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile.read_text(), flags=re.MULTILINE)
    assert cmd is not None
    assert json.loads(cmd.group(1)) == entry["command"]
    assert (ROOT / service.directory / "src" / service.package / "__main__.py").is_file()
    assert entry["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
    grace = int(entry["stop_grace_period"].removesuffix("s"))
    drain = float(entry["environment"][f"{service.env_prefix}DRAIN_TIMEOUT_S"])
    assert drain < grace


def _settings_classes(service: ServiceDef) -> list[type[BaseSettings]]:
    src = str(ROOT / service.directory / "src")
    if src not in sys.path:
        sys.path.append(src)  # services not installed in this venv still have their code here
    module = importlib.import_module(f"{service.package}.settings")
    own = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    # Settings a service's settings hold as fields (the indexer's VIDEOSENSE_SEARCH_ ones).
    nested = [
        field.annotation
        for cls in own
        for name, field in cls.model_fields.items()
        if name != "common"
        and isinstance(field.annotation, type)
        and issubclass(field.annotation, BaseSettings)
    ]
    return [*own, *nested]


def _known_variables(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_every_variable_is_read_and_every_required_one_is_set(
    compose: dict[str, Any], service: ServiceDef, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a service's compose environment WHEN its settings classes read it THEN every
    # VIDEOSENSE_ variable is one they read (no typo), and they accept the values.
    env = {
        k: _interpolate(str(v)) for k, v in compose["services"][service.name]["environment"].items()
    }
    classes = _settings_classes(service)
    assert classes, f"{service.package}.settings defines no settings class"
    known = _known_variables(CommonSettings)
    for cls in classes:
        known |= _known_variables(cls)
    unknown = {k for k in env if k.startswith("VIDEOSENSE_")} - known
    assert not unknown, f"{service.name} never reads {sorted(unknown)}"
    for key in [k for k in os.environ if k.startswith("VIDEOSENSE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cls in classes:
        cls()  # raises ValidationError on a missing or invalid value


def test_all_services_and_the_provisioner_agree_on_names(compose: dict[str, Any]) -> None:
    # GIVEN every container WHEN reading the shared settings THEN one prefix, bucket, table,
    # region and endpoint: what provisioning creates is what the services look for.
    shared = [
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "VIDEOSENSE_PREFIX",
        "VIDEOSENSE_BUCKET",
        "VIDEOSENSE_TABLE",
        "VIDEOSENSE_REGION",
        "VIDEOSENSE_UPLOADS_PREFIX",
    ]
    containers = [n for n in compose["services"] if n not in ("localstack", "moto")]
    values = {
        n: tuple(compose["services"][n]["environment"][k] for k in shared) for n in containers
    }
    assert len(set(values.values())) == 1, values


def test_the_prefix_alone_renames_every_resource(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the provisioner's environment with only VIDEOSENSE_PREFIX set on the host
    env = compose["services"]["provision"]["environment"]
    host = {"VIDEOSENSE_PREFIX": "demo"}
    for key in [k for k in os.environ if k.startswith("VIDEOSENSE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, _interpolate(str(value), host))
    # WHEN the shared settings read it
    common = CommonSettings()
    # THEN the table follows the prefix like the queues and topics (one naming rule)
    assert common.queue_name("ingest") == "demo-ingest"
    assert common.table_name == "demo-videos"


def test_ingest_accepts_exactly_the_deployed_stages(compose: dict[str, Any]) -> None:
    # GIVEN the services in compose WHEN ingest reads its stages THEN those with a service.
    env = compose["services"]["ingest"]["environment"]
    stages = {s.stage.value for s in DEPLOYED if s.stage is not None}
    assert set(env["VIDEOSENSE_INGEST_AVAILABLE_STAGES"].split(",")) == stages


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_dockerfile_is_slim_non_root_with_healthcheck_and_only_its_code(
    service: ServiceDef,
) -> None:
    # GIVEN a service Dockerfile WHEN read THEN a slim base, a non-root user, a healthcheck,
    # and only the shared library and that service copied in.
    text = (ROOT / service.dockerfile).read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert "slim" in base
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK\s+", text, flags=re.MULTILINE)
    sources = {line.split()[1] for line in re.findall(r"^COPY\s+.*$", text, flags=re.MULTILINE)}
    assert sources == {"shared", service.directory}


def test_hadolint_passes_on_every_dockerfile() -> None:
    # GIVEN every deployed Dockerfile WHEN hadolint lints it THEN no warning or error.
    files = [str(ROOT / s.dockerfile) for s in DEPLOYED]
    result = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "warning", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
