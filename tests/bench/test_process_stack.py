"""The benchmarks' process stack: the keys its services get on each emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from process_stack import localstack_credentials, running_emulator

from tests.localstack import launcher
from tests.support.service_processes import ServiceFleet
from videosense.emulator import EMULATOR_ENV
from videosense_deploy.environment import Deployment


def _fleet(tmp_path: Path, credentials: dict[str, str] | None) -> ServiceFleet:
    deployment = Deployment(prefix="b", bucket="b-media", table="b-videos", region="us-east-1")
    return ServiceFleet(
        endpoint="http://127.0.0.1:1", deployment=deployment, log_dir=tmp_path,
        credentials=credentials,
    )  # fmt: skip


def test_services_on_localstack_get_long_term_keys_without_a_session_token(
    tmp_path: Path,
) -> None:
    # GIVEN a fleet built with LocalStack's credentials
    fleet = _fleet(tmp_path, localstack_credentials())

    # WHEN the services' environments are read
    # THEN every service signs with LocalStack's keys and carries no session token (LocalStack
    # rejects a presigned URL that carries one), against the fleet's endpoint and region
    for service in fleet.services.values():
        assert "AWS_SESSION_TOKEN" not in service.env, service.name
        assert service.env["AWS_ACCESS_KEY_ID"] == launcher.CREDENTIALS["AWS_ACCESS_KEY_ID"]
        assert service.env["AWS_SECRET_ACCESS_KEY"] == launcher.CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        assert service.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert service.env["AWS_REGION"] == EMULATOR_ENV["AWS_REGION"]


def test_services_on_moto_keep_the_embedded_emulators_keys(tmp_path: Path) -> None:
    # GIVEN a fleet built without credentials WHEN its environments are read THEN they hold the
    # embedded emulator's settings, session token included, as before
    for service in _fleet(tmp_path, None).services.values():
        for name, value in EMULATOR_ENV.items():
            assert service.env[name] == value, (service.name, name)


def test_running_emulator_refuses_an_unknown_emulator(tmp_path: Path) -> None:
    # GIVEN an emulator name that is neither moto nor LocalStack WHEN it is started THEN a
    # clear error names the choices, before anything runs
    with (
        pytest.raises(ValueError, match="moto, localstack"),
        running_emulator("minio", tmp_path),
    ):
        pass
