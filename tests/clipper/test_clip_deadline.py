"""A clip request cannot stay pending forever: it carries a deadline, and one rule
(``videosense_shared.clip_answers.settle``) decides for every reader. On the real emulator:
``videosense clip`` with no clipper running gives up at its deadline saying so (exit 1); a
clipper that gets a request after its deadline answers ``failed`` without cutting; a cut that
would be recorded too late is dropped with its files. And the rule itself, case by case."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import clipper.handler
from tests.clipper.coded_video import coded_video
from tests.clipper.test_answers_recorded import World, delivery, world  # noqa: F401 (fixture)
from tests.support.waiting import receive_all
from videosense.cli import main
from videosense_shared.bus import queue_url
from videosense_shared.clip_answers import RecordedAnswer, settle
from videosense_shared.document import VideoDocument
from videosense_shared.ids import message_id_for
from videosense_shared.layout import clips_result_key, document_key
from videosense_shared.messages import (
    ClipRequested,
    ClipSelector,
    ClipsReady,
    ClipStatus,
    SourceRef,
    VideoStatus,
    utc_now,
)
from videosense_shared.topology import CLIPPER

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def request(request_id: str, *, video_id: str = "vdead", deadline_in_s: float) -> ClipRequested:
    now = utc_now()
    return ClipRequested(
        message_id=message_id_for(request_id, "ClipRequested"),
        video_id=video_id,
        trace_id=request_id,
        request_id=request_id,
        selector=ClipSelector(from_s=0.5, to_s=1.5),
        occurred_at=now,
        deadline_at=now + timedelta(seconds=deadline_in_s),
    )


@pytest.mark.integration
async def test_the_command_gives_up_at_the_deadline_saying_no_clipper_answered(
    world: World,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # GIVEN a stack's queues and topics, and no clipper running
    # WHEN clips are asked for with a 2 s timeout
    started = asyncio.get_running_loop().time()
    out = tmp_path / "clips"
    code = await asyncio.to_thread(
        main, ["clip", "vnobody", "--from", "1", "--to", "2", "--timeout", "2", "--out", str(out)]
    )
    waited = asyncio.get_running_loop().time() - started
    err = capsys.readouterr().err
    # THEN it stops after about 2 s, says plainly that no clipper answered, and exits 1
    assert code == 1
    assert "clipping failed: no clipper answered within 2 s" in err
    assert waited < 15
    assert not out.exists()
    # AND the request it left on the queue carries that deadline
    url = await queue_url(world.aws.sqs, world.common, CLIPPER)
    [message] = (await world.aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1))["Messages"]
    sent = ClipRequested.model_validate_json(message["Body"])
    assert sent.deadline_at is not None
    assert (sent.deadline_at - sent.occurred_at).total_seconds() == pytest.approx(2, abs=0.5)


@pytest.mark.integration
async def test_a_request_reaching_a_clipper_after_its_deadline_fails_without_cutting(
    world: World,  # noqa: F811
) -> None:
    # GIVEN a request whose deadline passed while no clipper ran
    asked = request("req-late", video_id="vnever", deadline_in_s=0.2)
    await asyncio.sleep(0.5)
    # WHEN a clipper finally gets it
    await world.clipper().handle(delivery(asked, receive_count=1))
    # THEN it answers failed with the deadline's reason (no document was even looked for)
    [published] = await world.published()
    assert published.status is ClipStatus.FAILED
    assert published.reason == "no clipper answered within 0.2 s (is a clipper running?)"
    # AND records exactly that, the only object under the request's prefix
    assert await world.recorded("vnever", "req-late") == published
    assert await world.keys("vnever") == [clips_result_key("vnever", "req-late")]


@pytest.mark.integration
async def test_a_cut_that_would_be_recorded_too_late_is_dropped_with_its_files(
    world: World,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a finished video (a real H.264 upload and its document)
    source = coded_video(tmp_path / "coded.mp4", seconds=3)
    key = "uploads/coded.mp4"
    put = await world.aws.s3.put_object(
        Bucket=world.common.bucket, Key=key, Body=source.read_bytes()
    )
    document = VideoDocument(
        video_id="vslow",
        status=VideoStatus.COMPLETE,
        source=SourceRef(
            bucket=world.common.bucket,
            key=key,
            etag=put["ETag"].strip('"'),
            size_bytes=source.stat().st_size,
        ),
        created_at=utc_now(),
    )
    await world.aws.s3.put_object(
        Bucket=world.common.bucket,
        Key=document_key("vslow"),
        Body=document.model_dump_json().encode(),
    )
    # AND a request due in 30 s, when a record must land a full minute before the deadline
    monkeypatch.setattr(clipper.handler, "RECORD_MARGIN_S", 60.0)
    asked = request("req-slow", video_id="vslow", deadline_in_s=30)
    # WHEN the clipper handles it
    await world.clipper().handle(delivery(asked, receive_count=1))
    # THEN the cut is not given: the answer is the deadline's failure
    [published] = await world.published()
    assert published.status is ClipStatus.FAILED
    assert published.reason == "no clipper answered within 30 s (is a clipper running?)"
    assert published.clips == ()
    # AND no clip file is left behind, only the record
    assert await world.keys("vslow") == [clips_result_key("vslow", "req-slow")]


@pytest.mark.integration
async def test_the_first_record_stays(world: World) -> None:  # noqa: F811
    # GIVEN a request already answered and recorded
    asked = request("req-once", video_id="vonce", deadline_in_s=60)
    first = world.clipper()
    await first.handle(delivery(asked, receive_count=1))
    [answer] = await world.published()
    before = await world.aws.s3.head_object(
        Bucket=world.common.bucket, Key=clips_result_key("vonce", "req-once")
    )
    # WHEN another answer is recorded for it
    other = answer.model_copy(update={"reason": "something else"})
    # THEN the recorded answer is returned (what the worker publishes), and the record is
    # unchanged (its time is what readers judge the deadline by)
    assert await first.record(other) == answer
    assert await world.recorded("vonce", "req-once") == answer
    after = await world.aws.s3.head_object(
        Bucket=world.common.bucket, Key=clips_result_key("vonce", "req-once")
    )
    assert after["ETag"] == before["ETag"]
    assert await receive_all(world.aws.sqs, world.answers, settle_s=0.2) == []


def _asked(deadline_at: datetime | None) -> ClipRequested:
    return ClipRequested(
        message_id="m",
        video_id="v",
        trace_id="t",
        request_id="r",
        selector=ClipSelector(label="Dog"),
        occurred_at=T0,
        deadline_at=deadline_at,
    )


def _answer(status: ClipStatus) -> ClipsReady:
    return ClipsReady(
        message_id="a",
        video_id="v",
        trace_id="t",
        request_id="r",
        status=status,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=5),
    )


def test_the_rule_every_reader_applies() -> None:
    asked = _asked(T0 + timedelta(seconds=60))
    done = _answer(ClipStatus.COMPLETE)
    before, after = T0 + timedelta(seconds=30), T0 + timedelta(seconds=61)
    # an answer recorded by the deadline is the answer, before and after it
    assert settle(asked, RecordedAnswer(done, before), before) == done
    assert settle(asked, RecordedAnswer(done, before), after) == done
    # no answer: pending before the deadline, failed from it on, saying why
    assert settle(asked, None, before) is None
    failed = settle(asked, None, after)
    assert failed is not None
    assert failed.status is ClipStatus.FAILED
    assert failed.reason == "no clipper answered within 60 s (is a clipper running?)"
    # an answer recorded after the deadline cannot turn that back
    assert settle(asked, RecordedAnswer(done, after), after) == failed
    # a failure recorded late is still that failure
    gave_up = _answer(ClipStatus.FAILED)
    assert settle(asked, RecordedAnswer(gave_up, after), after) == gave_up
    # a request sent before requests had deadlines gets the reader's default, or none
    old = _asked(None)
    assert settle(old, None, after, default_deadline_s=None) is None
    late = settle(old, None, after, default_deadline_s=10)
    assert late is not None
    assert late.reason == "no clipper answered within 10 s (is a clipper running?)"


@pytest.mark.integration
async def test_the_give_up_publishes_the_answer_already_recorded(world: World) -> None:  # noqa: F811
    # GIVEN a request answered and recorded by a worker that died before deleting the message
    asked = request("req-died", video_id="vdied", deadline_in_s=60)
    clipper = world.clipper()
    await clipper.handle(delivery(asked, receive_count=1))
    [recorded] = await world.published()
    # WHEN the last delivery the queue allows gives up on it
    await clipper.handle(delivery(asked, receive_count=3))
    # THEN what goes out is the recorded answer, not a contradicting give-up
    assert await world.published() == [recorded]
    assert await world.recorded("vdied", "req-died") == recorded
