"""Retry delays, the one exponential backoff of the project: doubled per attempt, capped, and
(for retries) jittered.

Three views of the same curve: :func:`nominal_delay_s` (no jitter: polling a job that
will finish on its own), :func:`jittered_delay_s` (float seconds, for an ``asyncio.sleep``
between two calls) and :func:`retry_delay_s` (whole seconds, for an SQS visibility timeout).
"""

from __future__ import annotations

import random

#: First retry delay, doubled on every further receive of the same message.
DEFAULT_RETRY_BASE_S = 2.0

#: SQS refuses a visibility timeout above 12 hours.
SQS_MAX_VISIBILITY_S = 43_200

# 2**30 seconds is decades: beyond this the cap always wins, and the exponent stays small enough
# never to overflow a float however often a message was received.
_MAX_EXPONENT = 30


def nominal_delay_s(attempt: int, *, base_s: float, cap_s: float) -> float:
    """Return ``base_s * 2 ** (attempt - 1)``, capped at ``cap_s`` (attempts count from 1;
    anything below counts as the first).

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    if base_s < 0 or cap_s < 0:
        raise ValueError("retry delays cannot be negative")
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return min(float(cap_s), base_s * 2.0**exponent)


def jittered_delay_s(
    attempt: int, *, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Return how long to wait (float seconds) before try ``attempt + 1``.

    "Equal jitter" picks uniformly in ``[nominal / 2, nominal]`` (see :func:`nominal_delay_s`):
    callers that failed together (an outage) spread out when they come back, yet the delay
    still grows with every attempt. ``rng`` makes the draw reproducible in tests.

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    nominal = nominal_delay_s(attempt, base_s=base_s, cap_s=cap_s)
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

    The :func:`jittered_delay_s` of the receive count, rounded because SQS visibility timeouts
    are whole seconds, and never above ``cap_s`` nor what SQS accepts.

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    jittered = jittered_delay_s(receive_count, base_s=base_s, cap_s=cap_s, rng=rng)
    return min(round(jittered), int(cap_s), SQS_MAX_VISIBILITY_S)
