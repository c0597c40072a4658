"""Shared fixtures: the AWS endpoint the integration and e2e tiers run against.

``--emulator`` chooses it: ``moto`` (default) is the moto server in a child process;
``localstack`` is LocalStack in a container through testcontainers when a Docker engine answers,
else LocalStack in host mode from its own virtualenv (``tests/localstack``). ``AWS_ENDPOINT_URL``,
when set, overrides both (any running LocalStack or moto). Each test gets its own resource-name
prefix and bucket, so tests never see each other's queues or documents, whichever backend runs.
Known differences between the emulators: ``docs/emulators.md``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.localstack import launcher
from videosense.emulator import EMULATOR_ENV, Emulator

EMULATORS = ("moto", "localstack")
# The tiers that need an AWS endpoint; the LocalStack run covers these only.
EMULATED_TIERS = ("integration", "e2e")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--emulator",
        choices=EMULATORS,
        default="moto",
        help="AWS emulator for the integration and e2e tiers (default: moto)",
    )


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _uses_host_localstack(config: pytest.Config) -> bool:
    return (
        config.getoption("--emulator") == "localstack"
        and not os.environ.get("AWS_ENDPOINT_URL")
        and not _docker_answers()
    )


def pytest_configure(config: pytest.Config) -> None:
    # Refuse at once, before any test runs, rather than error every test one by one.
    if _uses_host_localstack(config) and launcher.find_python() is None:
        raise pytest.UsageError(
            f"--emulator=localstack without Docker needs Python >= 3.13 for LocalStack "
            f"{launcher.VERSION}: none found (python3.13 on PATH, pyenv, or "
            f"${launcher.PYTHON_ENV})"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tiers are markers, not folders: a test that takes the emulator is an integration test
    # even if its module forgot to say so, so `-m "not integration and not e2e"` never needs one.
    for item in items:
        if "aws_endpoint" in getattr(item, "fixturenames", ()) and not any(
            item.get_closest_marker(tier) for tier in EMULATED_TIERS
        ):
            item.add_marker(pytest.mark.integration)
    if config.getoption("--emulator") != "localstack":
        return
    # A test that does not take the session endpoint runs its own embedded moto (the CLI's
    # `run` and `up`): a LocalStack run would only repeat the moto run's work.
    own_emulator = pytest.mark.skip(
        reason="starts its own embedded moto, not the session emulator: covered by the moto run "
        "(docs/emulators.md)"
    )
    for item in items:
        tiered = any(item.get_closest_marker(tier) for tier in EMULATED_TIERS)
        if tiered and "aws_endpoint" not in getattr(item, "fixturenames", ()):
            item.add_marker(own_emulator)


@pytest.fixture(scope="session")
def emulator(request: pytest.FixtureRequest) -> str:
    """Name of the emulator this session runs against (``--emulator``)."""
    return str(request.config.getoption("--emulator"))


@pytest.fixture(scope="session")
def aws_credentials(emulator: str) -> dict[str, str]:
    """Credentials for the session's emulator.

    LocalStack checks presigned-URL signatures against the secret key ``test``, and rejects a
    presigned URL that carries a session token: long-term keys there (docs/emulators.md).
    """
    if emulator == "localstack" and not os.environ.get("AWS_ENDPOINT_URL"):
        return launcher.client_credentials(EMULATOR_ENV)
    return dict(EMULATOR_ENV)


@pytest.fixture(scope="session")
def aws_endpoint(
    emulator: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of the AWS endpoint for this test session."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    if emulator == "moto":
        with Emulator() as moto:
            yield moto.endpoint
        return
    if _docker_answers():
        try:
            from testcontainers.localstack import LocalStackContainer
        except ImportError:
            pass
        else:
            # Community tag: newer ones need LOCALSTACK_AUTH_TOKEN.
            with LocalStackContainer(image=f"localstack/localstack:{launcher.VERSION}") as ls:
                yield ls.get_url()
            return
    python = launcher.find_python()
    assert python is not None, "checked in pytest_configure"
    venv_python = launcher.ensure_venv(python)
    log = tmp_path_factory.mktemp("localstack") / "localstack.log"
    with launcher.LocalStack(venv_python, log) as localstack:
        _announce(
            request.config,
            f"LocalStack {launcher.VERSION} on {localstack.endpoint}: healthy in "
            f"{localstack.started_in_s:.1f} s, {localstack.rss_bytes() / 2**20:.0f} MiB "
            f"resident; log {log}",
        )
        yield localstack.endpoint


def _announce(config: pytest.Config, line: str) -> None:
    # Straight to the terminal: a fixture's own output is captured with the test's.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n{line}")


@pytest.fixture
def aws_env(
    aws_endpoint: str, aws_credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Point SDKs and settings at the test endpoint with a fresh name prefix per test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **aws_credentials,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "VIDEOSENSE_PREFIX": prefix,
        "VIDEOSENSE_BUCKET": f"{prefix}-media",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "AWS_SESSION_TOKEN" not in env:
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return env


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-user data (the library search index that `videosense run` fills, the default face
    gallery) goes to the test's own directory, never the user's home; child processes inherit
    it."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
