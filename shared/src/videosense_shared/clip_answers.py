"""Where a clip request stands, decided in one place: recorded answer, deadline, or pending.

A ``ClipRequested`` carries a deadline (``deadline_at``). The clipper records every answer as
``clips/{video_id}/{request_id}/result.json``; S3 stamps the record with the time it was
written (``LastModified``, one clock for everybody). :func:`settle` is the rule every reader
applies (the web app's status read, ``videosense clip`` when it stops waiting, the clipper when
a request reaches it):

- an answer recorded by the deadline is the answer;
- past the deadline with no answer, or with an answer recorded only after it, the request has
  *failed*: "no clipper answered within N s" (no clipper running, the message dead-lettered, a
  cut that outlasted the deadline);
- otherwise it is pending.

So whoever reads after the deadline sees the same ``failed``, whether or not anything was
written, and a late clipper cannot turn it back: it checks the deadline before cutting and
before recording, records the same failure instead, and removes its files (see
docs/architecture.md, "The clipper").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from videosense_shared.ids import message_id_for
from videosense_shared.layout import clips_result_key
from videosense_shared.logs import get_logger
from videosense_shared.messages import ClipRequested, ClipsReady, ClipStatus, utc_now
from videosense_shared.objects import is_missing

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = get_logger(__name__)

#: How long a request waits for its answer when neither the request nor the reader says.
DEFAULT_CLIP_DEADLINE_S = 1800.0


@dataclass(frozen=True)
class RecordedAnswer:
    """A clip request's recorded answer and when S3 says it was written."""

    answer: ClipsReady
    recorded_at: datetime


def result_id(request: ClipRequested) -> str:
    """The message id of a request's answer (the same for every delivery of the request)."""
    return message_id_for(request.message_id, "ClipsReady")


def deadline_of(
    request: ClipRequested, default_s: float | None = DEFAULT_CLIP_DEADLINE_S
) -> datetime | None:
    """When the request must be answered by: its own ``deadline_at``, else ``default_s`` after
    it was made (``None``: a request without a deadline, when no default is given)."""
    if request.deadline_at is not None:
        return request.deadline_at
    if default_s is None:
        return None
    return request.occurred_at + timedelta(seconds=default_s)


def no_answer_reason(request: ClipRequested, deadline: datetime) -> str:
    """Why an unanswered request failed, in plain words."""
    waited = max(0.0, (deadline - request.occurred_at).total_seconds())
    return f"no clipper answered within {round(waited, 3):g} s (is a clipper running?)"


def overdue_answer(request: ClipRequested, deadline: datetime) -> ClipsReady:
    """The ``failed`` answer of a request nobody answered by ``deadline`` (the same, field for
    field, whoever makes it)."""
    return ClipsReady(
        message_id=result_id(request),
        occurred_at=deadline,
        video_id=request.video_id,
        trace_id=request.trace_id,
        request_id=request.request_id,
        status=ClipStatus.FAILED,
        reason=no_answer_reason(request, deadline),
        started_at=deadline,
        finished_at=deadline,
    )


def settle(
    request: ClipRequested,
    recorded: RecordedAnswer | None,
    now: datetime | None = None,
    default_deadline_s: float | None = DEFAULT_CLIP_DEADLINE_S,
) -> ClipsReady | None:
    """The request's answer as of ``now``: the recorded one if it was recorded by the deadline,
    the deadline's ``failed`` once it has passed, ``None`` while pending."""
    deadline = deadline_of(request, default_deadline_s)
    if deadline is None:
        return recorded.answer if recorded is not None else None
    if recorded is not None:
        late = recorded.recorded_at > deadline and recorded.answer.status is not ClipStatus.FAILED
        return overdue_answer(request, deadline) if late else recorded.answer
    if (now or utc_now()) >= deadline:
        return overdue_answer(request, deadline)
    return None


async def read_answer(
    s3: S3Client, bucket: str, video_id: str, request_id: str
) -> RecordedAnswer | None:
    """The recorded answer of a request and when it was written (``None``: none yet, or an
    unreadable record).

    Raises:
        botocore.exceptions.ClientError: S3 refused the read (other than a missing key).
    """
    key = clips_result_key(video_id, request_id)
    try:
        resp = await s3.get_object(Bucket=bucket, Key=key)
        async with resp["Body"] as body:
            raw: bytes = await body.read()
    except ClientError as err:
        if is_missing(err):
            return None
        raise
    try:
        answer = ClipsReady.model_validate_json(raw)
    except ValidationError:
        log.warning("ignoring an unreadable clip answer", key=key)
        return None
    written = resp.get("LastModified") or answer.finished_at
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    return RecordedAnswer(answer, written)
