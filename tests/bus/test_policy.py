"""Consumer and publisher policy that needs no network: backoff, error classes, signals."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from videosense_shared.bus import PoisonMessage, RetryableError, install_stop_signals
from videosense_shared.bus.backoff import (
    SQS_MAX_VISIBILITY_S,
    jittered_delay_s,
    nominal_delay_s,
    retry_delay_s,
)
from videosense_shared.bus.errors import is_transient_aws_error
from videosense_shared.bus.publisher import message_attributes
from videosense_shared.messages import Model, StageFailed

# ------------------------------------------------------------------------------------ backoff


@pytest.mark.parametrize(
    ("receive_count", "nominal"),
    [
        pytest.param(1, 2, id="first-receive-base"),
        pytest.param(2, 4, id="second-doubles"),
        pytest.param(3, 8, id="third-doubles-again"),
        pytest.param(6, 64, id="sixth"),
        pytest.param(9, 300, id="capped"),
        pytest.param(10_000, 300, id="huge-count-no-overflow"),
    ],
)
def test_retry_delay_is_exponential_capped_and_jittered(receive_count: int, nominal: int) -> None:
    delays = {
        retry_delay_s(receive_count, base_s=2, cap_s=300, rng=random.Random(seed))
        for seed in range(200)
    }
    # Equal jitter: never below half the nominal delay, never above it (nor above the cap).
    assert min(delays) >= nominal // 2
    assert max(delays) <= nominal
    if nominal >= 8:
        assert len(delays) > 1, "delays must be spread, not synchronised"


def test_retry_delay_is_reproducible_with_a_seeded_rng() -> None:
    first = [retry_delay_s(n, cap_s=300, rng=random.Random(7)) for n in range(1, 8)]
    again = [retry_delay_s(n, cap_s=300, rng=random.Random(7)) for n in range(1, 8)]
    assert first == again


def test_a_zero_cap_retries_at_once() -> None:
    assert {retry_delay_s(n, cap_s=0) for n in range(1, 10)} == {0}


def test_retry_delay_never_exceeds_what_sqs_accepts() -> None:
    delays = {retry_delay_s(40, base_s=10**9, cap_s=10**9, rng=random.Random(s)) for s in range(50)}
    assert max(delays) <= SQS_MAX_VISIBILITY_S


def test_retry_delay_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="negative"):
        retry_delay_s(1, base_s=-1, cap_s=10)


def test_nominal_delay_doubles_from_the_base_up_to_the_cap() -> None:
    # GIVEN a 15 s base capped at 120 s WHEN attempts 0..6 THEN 15, 15, 30, 60, 120, 120, 120.
    delays = [nominal_delay_s(n, base_s=15, cap_s=120) for n in range(7)]
    assert delays == [15, 15, 30, 60, 120, 120, 120]


def test_jittered_delay_keeps_fractions_within_half_and_whole_nominal() -> None:
    # GIVEN sub-second delays (an API retried between two calls) WHEN drawn THEN float seconds
    # in [nominal / 2, nominal], spread, and never above the cap.
    for attempt, nominal in ((1, 0.5), (2, 1.0), (3, 2.0), (9, 30.0)):
        delays = {
            jittered_delay_s(attempt, base_s=0.5, cap_s=30, rng=random.Random(seed))
            for seed in range(100)
        }
        assert nominal / 2 <= min(delays) <= max(delays) <= nominal
        assert any(d != round(d) for d in delays), "fractions must survive"


def test_whole_second_retry_delay_is_the_rounded_jittered_delay() -> None:
    # GIVEN the same seed WHEN both views are drawn THEN the SQS delay is the float one rounded.
    for attempt in range(1, 10):
        exact = jittered_delay_s(attempt, base_s=2, cap_s=300, rng=random.Random(attempt))
        whole = retry_delay_s(attempt, base_s=2, cap_s=300, rng=random.Random(attempt))
        assert whole == round(exact)


def test_jittered_delay_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="negative"):
        jittered_delay_s(1, base_s=1, cap_s=-1)


# ----------------------------------------------------------------------------- error classes


def _client_error(code: str, status: int) -> ClientError:
    # What botocore raises, as parsed from a real error response (only the fields used).
    response: Any = {
        "Error": {"Code": code, "Message": "boom"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Publish")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        pytest.param(_client_error("Throttling", 400), True, id="throttling"),
        pytest.param(_client_error("ThrottledException", 400), True, id="sns-throttled"),
        pytest.param(_client_error("KMSThrottlingException", 400), True, id="kms-throttled"),
        pytest.param(_client_error("Whatever", 429), True, id="http-429"),
        pytest.param(_client_error("InternalError", 500), True, id="internal-error"),
        pytest.param(_client_error("Unknown", 503), True, id="http-503"),
        pytest.param(EndpointConnectionError(endpoint_url="http://x"), True, id="endpoint-down"),
        pytest.param(ReadTimeoutError(endpoint_url="http://x"), True, id="read-timeout"),
        pytest.param(TimeoutError(), True, id="asyncio-timeout"),
        pytest.param(_client_error("NotFound", 404), False, id="missing-topic"),
        pytest.param(_client_error("AuthorizationError", 403), False, id="access-denied"),
        pytest.param(_client_error("InvalidParameter", 400), False, id="invalid-parameter"),
        pytest.param(ValueError("bug"), False, id="not-aws"),
    ],
)
def test_transient_aws_errors_are_told_apart(exc: BaseException, transient: bool) -> None:
    assert is_transient_aws_error(exc) is transient


def test_error_types_carry_their_reason() -> None:
    assert PoisonMessage("bad field").reason == "bad field"
    retry = RetryableError("job still running", retry_after_s=30)
    assert (retry.reason, retry.retry_after_s) == ("job still running", 30)
    assert RetryableError("x").retry_after_s is None


# ---------------------------------------------------------------------- publisher attributes


def test_message_attributes_carry_type_and_identifying_ids() -> None:
    message = StageFailed(
        message_id="m1", video_id="v1", trace_id="t1", stage="captions", error="no model"
    )

    attributes = message_attributes(message)

    assert attributes == {
        "type": {"DataType": "String", "StringValue": "StageFailed"},
        "video_id": {"DataType": "String", "StringValue": "v1"},
        "trace_id": {"DataType": "String", "StringValue": "t1"},
        "message_id": {"DataType": "String", "StringValue": "m1"},
    }


def test_models_without_those_fields_get_no_attributes() -> None:
    class Ping(Model):
        video_id: str = ""  # empty strings are refused by SNS, so they are left out
        count: int = 3

    assert message_attributes(Ping()) == {}


# ------------------------------------------------------------------------------------ signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stop_signals_set_the_event(sig: signal.Signals) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        os.kill(os.getpid(), sig)
        await asyncio.wait_for(stop.wait(), timeout=5)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)
    assert stop.is_set()
