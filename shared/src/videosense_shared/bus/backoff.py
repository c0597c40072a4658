"""Retry delays: exponential in the receive count, capped, jittered."""

from __future__ import annotations

import random

#: First retry delay, doubled on every further receive of the same message.
DEFAULT_RETRY_BASE_S = 2.0

#: SQS refuses a visibility timeout above 12 hours.
SQS_MAX_VISIBILITY_S = 43_200

# 2**30 seconds is decades: beyond this the cap always wins, and the exponent stays small enough
# never to overflow a float however often a message was received.
_MAX_EXPONENT = 30


def retry_delay_s(
    receive_count: int,
    *,
    base_s: float = DEFAULT_RETRY_BASE_S,
    cap_s: float,
    rng: random.Random | None = None,
) -> int:
    """Return how long (whole seconds) a failed message stays invisible before its next try.

    The nominal delay is ``base_s * 2 ** (receive_count - 1)``, capped at ``cap_s``. "Equal
    jitter" then picks uniformly in ``[nominal / 2, nominal]``: messages that failed together
    (an outage) spread out when they come back, yet the delay still grows with every attempt.
    The result is rounded because SQS visibility timeouts are whole seconds.

    Raises:
        ValueError: ``base_s`` or ``cap_s`` is negative.
    """
    if base_s < 0 or cap_s < 0:
        raise ValueError("retry delays cannot be negative")
    exponent = min(max(receive_count, 1) - 1, _MAX_EXPONENT)
    nominal = min(float(cap_s), base_s * 2.0**exponent)
    uniform = rng.uniform if rng is not None else random.uniform
    jittered = nominal / 2 + uniform(0, nominal / 2)
    return min(round(jittered), int(cap_s), SQS_MAX_VISIBILITY_S)
