"""Each service scales on its own queue's backlog, by as many tasks as the backlog needs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import aws_applicationautoscaling as autoscaling

from tests.deploy.conftest import Synthesized
from videosense_deploy.compose import LOCAL
from videosense_deploy.environment import service_environment
from videosense_deploy.services import SERVICES, TRANSCRIBE_JOBS_PER_TASK, ServiceDef
from videosense_deploy.stack import MAX_SCALING_STEPS, backlog_steps
from videosense_shared.services import TRANSCRIBER_SERVICE

SERVICE_IDS = [pytest.param(s, id=s.name) for s in SERVICES]


def _table(
    steps: list[autoscaling.ScalingInterval],
) -> list[tuple[float | None, float | None, float]]:
    return [(s.lower, s.upper, s.change) for s in steps]


def _tasks_for(steps: list[autoscaling.ScalingInterval], backlog: int) -> int:
    """The task count the steps give ``backlog`` (the highest step whose bound it reaches)."""
    if backlog <= 0:
        (empty,) = [s for s in steps if s.upper == 0]
        return int(empty.change)
    return int(
        max(
            (s for s in steps if s.lower is not None and s.lower <= backlog),
            key=lambda s: s.lower or 0,
        ).change
    )


def test_one_video_per_task_gets_a_task_per_message() -> None:
    # GIVEN a service that takes one message at a time, 0 to 4 tasks WHEN the steps are made
    # THEN an empty queue means none, and each message in the backlog one more task.
    assert _table(backlog_steps(0, 4, per_task=1)) == [
        (None, 0, 0),
        (1, None, 1),
        (2, None, 2),
        (3, None, 3),
        (4, None, 4),
    ]


def test_concurrent_service_gets_a_task_per_concurrency_messages() -> None:
    # GIVEN a service that works on 4 messages at once WHEN the steps are made THEN 1-4
    # messages take one task, 5-8 two, and so on up to the maximum.
    steps = backlog_steps(0, 4, per_task=4)
    assert [_tasks_for(steps, n) for n in (0, 1, 4, 5, 8, 9, 13, 500)] == [0, 1, 1, 2, 2, 3, 4, 4]


def test_min_tasks_is_kept_when_the_queue_is_empty_or_short() -> None:
    # GIVEN min 2 / max 4 WHEN the steps are made THEN the task count never drops below 2.
    steps = backlog_steps(2, 4, per_task=1)
    assert [_tasks_for(steps, n) for n in (0, 1, 2, 3, 4, 9)] == [2, 2, 2, 3, 4, 4]


def test_many_tasks_are_reached_in_a_bounded_number_of_steps() -> None:
    # GIVEN max 40 tasks WHEN the steps are made THEN at most MAX_SCALING_STEPS backlog steps,
    # rising, never fewer tasks than the backlog needs up to the maximum.
    steps = backlog_steps(0, 40, per_task=2)
    rising = [s for s in steps if s.lower is not None]
    assert len(rising) <= MAX_SCALING_STEPS
    assert [s.change for s in rising] == sorted({s.change for s in rising})
    assert rising[-1].change == 40
    for backlog in range(1, 100):
        assert _tasks_for(steps, backlog) >= min(40, -(-backlog // 2)), backlog


def test_per_task_below_one_is_refused() -> None:
    # GIVEN a concurrency of 0 WHEN the steps are made THEN a clear error.
    with pytest.raises(ValueError, match="per_task"):
        backlog_steps(0, 4, per_task=0)


def _policy(stack: Synthesized, service: str, which: str) -> dict[str, Any]:
    policies: list[dict[str, Any]] = [
        p["Properties"]["StepScalingPolicyConfiguration"]
        for name, p in stack.resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if name.startswith(f"Service{service.replace('-', '')}TaskCountTargetBacklog{which}")
    ]
    (policy,) = policies
    return policy


def _alarm_threshold(stack: Synthesized, service: str, which: str) -> float:
    (threshold,) = [
        a["Properties"]["Threshold"]
        for name, a in stack.resources("AWS::CloudWatch::Alarm").items()
        if name.startswith(f"Service{service.replace('-', '')}TaskCountTargetBacklog{which}Alarm")
    ]
    return float(threshold)


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_synthesized_steps_follow_each_services_concurrency(
    every: Synthesized, service: ServiceDef
) -> None:
    # GIVEN a service (min 1 / max 7 in the `every` stack) WHEN synthesized THEN its scale-out
    # policy sets exactly the task counts backlog_steps gives for its concurrency with the
    # backend it runs there, and its scale-in policy sets min_tasks when the backlog is empty.
    config = every.config
    per_task = service.concurrency_with(config.backend_for(service))
    expected = backlog_steps(config.min_tasks, config.max_tasks, per_task)
    upper = _policy(every, service.name, "Upper")
    threshold = _alarm_threshold(every, service.name, "Upper")
    assert upper["AdjustmentType"] == "ExactCapacity"
    synthesized = [
        (int(threshold + step["MetricIntervalLowerBound"]), step["ScalingAdjustment"])
        for step in upper["StepAdjustments"]
    ]
    assert synthesized == [(s.lower, s.change) for s in expected if s.lower is not None]
    lower = _policy(every, service.name, "Lower")
    assert lower["StepAdjustments"] == [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": config.min_tasks}
    ]
    assert _alarm_threshold(every, service.name, "Lower") == 0


def test_a_transcribe_task_holds_many_jobs_and_scales_by_them(every: Synthesized) -> None:
    # GIVEN the transcriber on the Transcribe backend (the `every` stack), whose messages wait
    # in flight while their jobs run on AWS's side
    transcriber = next(s for s in every.services if s.info == TRANSCRIBER_SERVICE)
    assert every.config.backend_for(transcriber) == "transcribe"
    # WHEN synthesized THEN a task takes TRANSCRIBE_JOBS_PER_TASK messages at once, and the
    # backlog of a burst of that many videos asks for one task, not one per video
    env = every.environment(transcriber.name)
    assert env["VIDEOSENSE_TRANSCRIBER_CONCURRENCY"] == str(TRANSCRIBE_JOBS_PER_TASK)
    steps = backlog_steps(1, 7, TRANSCRIBE_JOBS_PER_TASK)
    assert _tasks_for(steps, TRANSCRIBE_JOBS_PER_TASK) == 1
    assert _tasks_for(steps, TRANSCRIBE_JOBS_PER_TASK + 1) == 2
    upper = _policy(every, transcriber.name, "Upper")
    threshold = _alarm_threshold(every, transcriber.name, "Upper")
    synthesized = [
        (int(threshold + step["MetricIntervalLowerBound"]), step["ScalingAdjustment"])
        for step in upper["StepAdjustments"]
    ]
    assert synthesized[:2] == [(1, 1), (TRANSCRIBE_JOBS_PER_TASK + 1, 2)]


def test_whisper_keeps_the_transcribers_own_concurrency() -> None:
    # GIVEN the transcriber on Whisper (CPU-bound in the task) WHEN its environment is made
    # THEN it takes one video at a time, as the service table says
    transcriber = next(s for s in SERVICES if s.info == TRANSCRIBER_SERVICE)
    env = service_environment(transcriber, LOCAL, SERVICES, "whisper")
    assert env["VIDEOSENSE_TRANSCRIBER_CONCURRENCY"] == str(transcriber.concurrency) == "1"
