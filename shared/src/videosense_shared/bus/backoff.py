"""Retry delays: exponential in the attempt number, capped, jittered. The project's one backoff."""

from __future__ import annotations

import random

#: First retry delay, doubled on every further receive of the same message.
DEFAULT_RETRY_BASE_S = 2.0

#: SQS refuses a visibility timeout above 12 hours.
SQS_MAX_VISIBILITY_S = 43_200

# 2**30 times the base is decades: beyond this the cap always wins, and the exponent stays small
# enough never to overflow a float however often a message was received.
_MAX_EXPONENT = 30


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    rng: random.Random | None = None,
) -> float:
    """Return how long to wait before retry number ``attempt`` (1 for the first retry).

    The nominal delay is ``base_s * 2 ** (attempt - 1)``, capped at ``cap_s``. "Equal jitter"
    then picks uniformly in ``[nominal / 2, nominal]``: callers that failed together (an
    outage) spread out when they come back, yet the delay still grows with every attempt.
    Fractional seconds are kept, for waits far below a second (e.g. DynamoDB throttling).

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    if base_s < 0 or cap_s < 0:
        raise ValueError("retry delays cannot be negative")
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    nominal = min(float(cap_s), base_s * 2.0**exponent)
    uniform = rng.uniform if rng is not None else random.uniform
    return nominal / 2 + uniform(0, nominal / 2)


def retry_delay_s(
    receive_count: int,
    *,
    base_s: float = DEFAULT_RETRY_BASE_S,
    cap_s: float,
    rng: random.Random | None = None,
) -> int:
    """Return how long (whole seconds) a failed message stays invisible before its next try.

    :func:`backoff_s` of the receive count, rounded because SQS visibility timeouts are whole
    seconds.

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    jittered = backoff_s(receive_count, base_s=base_s, cap_s=cap_s, rng=rng)
    return min(round(jittered), int(cap_s), SQS_MAX_VISIBILITY_S)
