"""The cost model's arithmetic on small cases, and its task sizes against the CDK table."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cost_model import (
    CHOICES,
    FARGATE_GB_HOUR,
    FARGATE_VCPU_HOUR,
    KEYFRAMES_PER_MIN,
    PRICES,
    PUBLIC_IPV4_HOUR,
    TASKS,
    TRANSCRIBE_TASK,
    Task,
    bill,
    fargate_line,
    main,
    requests_per_video,
    stage_lines,
    task_capacity,
    total,
)

from videosense_deploy.services import SERVICES
from videosense_shared.messages import Stage


def test_fargate_line_charges_task_hours_of_vcpu_and_memory() -> None:
    # GIVEN a 1 vCPU / 2 GB task and work of 36 core-seconds per minute WHEN 100 minutes are
    # billed THEN the task runs one hour: one vCPU-hour, two GB-hours and its public IP.
    task = Task("t", vcpu=1.0, memory_gb=2.0, concurrency=1)
    line = fargate_line(Stage.FRAMES, "local", task, core_s_per_min=36, minutes=100)
    assert line.quantity == pytest.approx(1.0)
    assert line.usd == pytest.approx(
        FARGATE_VCPU_HOUR.usd + 2 * FARGATE_GB_HOUR.usd + PUBLIC_IPV4_HOUR.usd
    )
    # Half the vCPUs: the same work keeps the task twice as long.
    half = Task("t", vcpu=0.5, memory_gb=1.0, concurrency=1)
    assert fargate_line(Stage.FRAMES, "local", half, 36, 100).quantity == pytest.approx(2.0)


def test_api_lines_are_unit_price_times_volume() -> None:
    # GIVEN 100 minutes WHEN the AWS APIs are billed THEN Transcribe is per minute,
    # Rekognition Image 4 calls per keyframe, Rekognition Video per minute (plus the render).
    (transcribe,) = stage_lines(Stage.TRANSCRIPT, "transcribe", 100)
    assert transcribe.usd == pytest.approx(100 * 0.024)
    (rekognition,) = stage_lines(Stage.RECOGNITION, "rekognition", 100)
    assert rekognition.quantity == pytest.approx(100 * KEYFRAMES_PER_MIN.value * 4)
    assert rekognition.usd == pytest.approx(rekognition.quantity * 0.001)
    render, video = stage_lines(Stage.REDACTION, "rekognition", 100)
    assert video.usd == pytest.approx(100 * 0.10)
    (local,) = stage_lines(Stage.REDACTION, "local", 100)
    assert 0 < render.usd < local.usd  # the render stays, face detection is Rekognition's


def test_bedrock_captions_bill_image_prompt_and_output_tokens() -> None:
    # GIVEN 10 minutes (97 keyframes) WHEN captioned on Nova Lite THEN input is 1,340 tokens
    # per keyframe at $0.06 per million and output 40 at $0.24 per million.
    tokens_in, tokens_out = stage_lines(Stage.CAPTIONS, "bedrock", 10)
    assert tokens_in.quantity == pytest.approx(97 * 1340)
    assert tokens_in.usd == pytest.approx(97 * 1340 * 0.06 / 1e6)
    assert tokens_out.usd == pytest.approx(97 * 40 * 0.24 / 1e6)


def test_requests_of_a_ten_minute_video_follow_the_flow() -> None:
    # GIVEN a 10-minute video (97 keyframes: 2 chunks of 50) WHEN its plumbing is counted
    # THEN 9 publishes (ingested, 3 per chunk, transcript, completed), 17 deliveries of 3 SQS
    # requests each, a JPEG per keyframe plus the upload and the document.
    per = requests_per_video(10)
    assert per.sns_publishes == 9
    assert per.sqs_requests == 3 * 17
    assert per.s3_puts == pytest.approx(97 + 2)
    assert per.dynamodb_writes > 4 * 97  # items and results of every keyframe at least


def test_bill_totals_its_lines_and_refuses_what_was_not_measured() -> None:
    # GIVEN each backend choice WHEN billed THEN the total is the sum of the lines, and the
    # all-local choice costs less than the AWS APIs; unmeasured backends are refused.
    bills = {name: bill(choice, 60_000, 10) for name, choice in CHOICES.items()}
    for lines in bills.values():
        assert total(lines) == pytest.approx(sum(line.usd for line in lines))
    assert total(bills["all local on Fargate"]) < total(bills["AWS AI APIs (stack defaults)"])
    with pytest.raises(ValueError, match="no measured cost for captions on 'local'"):
        stage_lines(Stage.CAPTIONS, "local", 10)
    with pytest.raises(ValueError, match="more than 0 minutes"):
        requests_per_video(0)


def test_task_sizes_are_the_ones_the_stack_deploys() -> None:
    # GIVEN the CDK service table WHEN compared with the model's tasks THEN the same vCPUs,
    # memory and concurrency (a resized task must be re-billed).
    table = {s.name: s for s in SERVICES}
    for name, task in TASKS.items():
        service = table[name]
        assert (task.vcpu, task.memory_gb, task.concurrency) == (
            service.cpu / 1024,
            service.memory_mib / 1024,
            service.concurrency,
        ), name
    # AND the transcriber's on Transcribe takes the messages that backend's tasks take at once
    transcriber = table["transcriber"]
    assert (
        replace(TASKS["transcriber"], concurrency=transcriber.concurrency_with("transcribe"))
        == TRANSCRIBE_TASK
    )
    assert TRANSCRIBE_TASK.concurrency > transcriber.concurrency


def test_task_capacity_is_vcpu_seconds_over_cost_per_minute() -> None:
    # GIVEN the frame extractor (1 vCPU, 5.5 s per minute) WHEN its capacity is computed THEN
    # 3600 / 5.5 minutes of video per task-hour; AWS-bound backends have no CPU figure.
    caps = {(c.service, c.backend): c for c in task_capacity() if c.note != "1080p"}
    frames = caps[("frame-extractor", "local")]
    assert frames.video_minutes_per_hour == pytest.approx(3600 / 5.5)
    assert caps[("transcriber", "transcribe")].video_minutes_per_hour is None


def test_every_price_says_where_it_comes_from() -> None:
    # GIVEN the price constants WHEN read THEN each names AWS's page (directly or as the page
    # a third-party one quotes) and a date or how it was read; third-party readings are marked.
    for name, price in PRICES.items():
        assert "https://aws.amazon.com/" in price.source, name
        assert price.third_party == (not price.source.startswith("https://aws.amazon.com/")), name
        assert price.as_of, name
        assert price.usd > 0, name
    assert FARGATE_VCPU_HOUR.third_party


def test_main_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN 10 hours of 5-minute videos WHEN the module runs THEN it prints each choice's total
    # and the task table.
    main(["--hours", "10", "--video-minutes", "5"])
    out = capsys.readouterr().out
    assert out.count("**total**") == len(CHOICES)
    assert "What one Fargate task sustains" in out
    assert "(600 minutes)" in out
