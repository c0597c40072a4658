"""How a handler tells the consumer what to do with a message it could not handle.

Ack/retry/reject is the consumer's policy, signalled by these named exceptions, never by retry
loops inside handlers:

- return normally: the message is deleted (the handler has already published its outputs);
- raise :class:`RetryableError`: transient trouble, the message comes back after a backoff and
  SQS redrive moves it to the dead-letter queue after ``maxReceiveCount`` receives;
- raise :class:`PoisonMessage`: the message can never succeed, it goes to the dead-letter queue
  at once;
- raise anything else: treated as retryable (it is probably a bug or an unforeseen outage; the
  traceback is logged and redrive still bounds the damage).
"""

from __future__ import annotations

import asyncio

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError


class RetryableError(Exception):
    """Transient failure (throttling, 5xx, a dependency not ready yet): try again later.

    The message is not deleted; its visibility is set to a backoff delay so that it reappears
    later. ``retry_after_s`` overrides the computed backoff when the handler knows better (e.g.
    an asynchronous job that is still running); it is still capped by
    ``ConsumerSettings.max_retry_delay_s``.
    """

    def __init__(self, reason: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class PoisonMessage(Exception):  # noqa: N818 - the name is part of the shared contract
    """The message can never succeed (malformed JSON, failed validation): dead-letter it now.

    ``reason`` ends up in the ``videosense-error`` message attribute of the dead-lettered copy,
    so it should say in plain words what is wrong with the message.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Error codes AWS services use for throttling and transient server trouble. botocore's own
# retry modes already retry most of them a few times; when those retries are exhausted the
# problem is still transient from the message's point of view.
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "KMSThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def is_transient_aws_error(exc: BaseException) -> bool:
    """Tell whether an exception from an AWS call is worth retrying later.

    True for throttling, HTTP 429/5xx, timeouts and connection failures; False for everything
    that retrying cannot fix (missing resource, access denied, invalid parameter).
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _TRANSIENT_CODES or status == 429 or status >= 500
    # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
    return isinstance(exc, ConnectionError | HTTPClientError | asyncio.TimeoutError)
