"""The LocalStack launcher's choices that need no LocalStack: interpreter, environment, stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.localstack import launcher


def test_an_interpreter_older_than_3_13_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the override names an interpreter that is too old (the project's own, or a 3.12)
    if sys.version_info >= launcher.MIN_PYTHON:
        pytest.skip("this interpreter is new enough for LocalStack")
    monkeypatch.setenv(launcher.PYTHON_ENV, sys.executable)
    # WHEN the launcher looks for one THEN it finds none rather than a Python LocalStack breaks on
    assert launcher.find_python() is None


def test_a_missing_interpreter_is_not_chosen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(launcher.PYTHON_ENV, str(tmp_path / "no-such-python"))
    assert launcher.find_python() is None


def test_the_server_env_is_loopback_checked_and_free_of_the_callers_aws_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a caller with AWS settings of its own and a Python path of the project
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-looking-secret")
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/src")
    # WHEN the server's environment is made
    env = launcher.server_env(4566, tmp_path)
    # THEN it listens on loopback only, checks presigned signatures, serves DynamoDB from moto
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4566"
    assert env["GATEWAY_SERVER"] == "hypercorn"
    assert env["S3_SKIP_SIGNATURE_VALIDATION"] == "0"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "moto"
    assert env["FILESYSTEM_ROOT"] == str(tmp_path)
    # AND nothing of the caller's AWS settings or Python path reaches it
    assert env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert "AWS_PROFILE" not in env
    assert "PYTHONPATH" not in env


def test_stopping_a_server_that_never_started_is_harmless(tmp_path: Path) -> None:
    server = launcher.LocalStack(Path("/nonexistent/python"), tmp_path / "log")
    server.stop()
    server.stop()
    assert server.rss_bytes() == 0


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    # GIVEN an interpreter without LocalStack (it exits at once)
    server = launcher.LocalStack(Path(sys.executable), tmp_path / "localstack.log")
    # WHEN it is started THEN the error names the log, which tells why
    with pytest.raises(launcher.LocalStackError, match=r"localstack\.log"), server:
        pass
    assert "No module named 'localstack'" in (tmp_path / "localstack.log").read_text()
    # AND nothing is left running
    assert server.rss_bytes() == 0
