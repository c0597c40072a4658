"""The CDK app's options and the scaling steps it derives from them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from videosense_deploy.app import _context_args, config_from_context
from videosense_deploy.services import SERVICES
from videosense_deploy.stack import StackConfig, backlog_steps
from videosense_shared.services import REGISTRY


def test_context_options_reach_the_config() -> None:
    # GIVEN `-c` options WHEN read THEN the config has them, backends per service.
    args = _context_args(
        ["-c", "env=prod", "--context", "max_tasks=9", "-c", "backend.recognizer=local"]
    )
    config = config_from_context({**args, "min_tasks": "1", "spot": "false"})
    assert (config.env_name, config.min_tasks, config.max_tasks, config.spot) == (
        "prod",
        1,
        9,
        False,
    )
    assert config.prefix == "videosense-prod"
    recognizer = next(s for s in SERVICES if s.name == "recognizer")
    assert config.backend_for(recognizer) == "local"


def test_defaults_scale_to_zero_on_cloud_backends() -> None:
    # GIVEN no options WHEN read THEN dev, 0..4 tasks on Spot, AWS backends for AI services.
    config = config_from_context({})
    assert (config.env_name, config.min_tasks, config.max_tasks, config.spot) == ("dev", 0, 4, True)
    for service in SERVICES:
        assert config.backend_for(service) == service.cloud_backend


@pytest.mark.parametrize(
    ("min_tasks", "max_tasks"),
    [
        pytest.param(2, 1, id="min-above-max"),
        pytest.param(0, 0, id="max-zero"),
        pytest.param(-1, 3, id="negative-min"),
    ],
)
def test_impossible_task_bounds_are_refused(min_tasks: int, max_tasks: int) -> None:
    # GIVEN impossible bounds WHEN building the config THEN a readable error.
    with pytest.raises(ValueError, match="min_tasks"):
        StackConfig(min_tasks=min_tasks, max_tasks=max_tasks)


@pytest.mark.parametrize(
    ("min_tasks", "max_tasks", "expected"),
    [
        pytest.param(0, 1, [(None, 0, 0), (1, None, 1)], id="zero-to-one"),
        pytest.param(
            0,
            4,
            [(None, 0, 0), (1, None, 1), (2, None, 2), (3, None, 3), (4, None, 4)],
            id="zero-to-four",
        ),
        pytest.param(
            1,
            7,
            [(None, 0, 1), *((n, None, n) for n in range(1, 8))],
            id="one-to-seven",
        ),
        pytest.param(2, 2, [(None, 0, 2), (1, None, 2)], id="fixed-two"),
    ],
)
def test_backlog_steps(
    min_tasks: int, max_tasks: int, expected: list[tuple[int | None, int | None, int]]
) -> None:
    # GIVEN task bounds (one message per task) WHEN deriving steps THEN an empty queue gives
    # min, one message at least one task, a task per message up to max, never decreasing.
    steps = [(s.lower, s.upper, s.change) for s in backlog_steps(min_tasks, max_tasks)]
    assert steps == expected


def test_the_table_deploys_exactly_the_registered_services() -> None:
    # GIVEN the shared registry WHEN the deployment's table is read THEN one row per registered
    # service, each carrying that entry (name, package, queue and stage are not restated).
    assert [s.info for s in SERVICES] == list(REGISTRY)


def test_the_deployment_imports_no_service_package() -> None:
    # GIVEN a fresh interpreter WHEN the CDK app module is imported THEN no service package (nor
    # what they load: models, PyAV) comes with it: synthesis needs only the shared registry.
    heavy = [info.package for info in REGISTRY] + ["torch", "av", "transformers"]
    probe = (
        "import sys, videosense_deploy.app; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""
