"""Telling apart AWS failures worth another try from those that end the stage."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from captioner.backend import CaptioningError
from captioner.remote import RetryCall
from videosense_shared.backends import BackendUnavailableError
from videosense_shared.bus import is_transient_aws_error

# Transient codes of the Bedrock and SageMaker runtimes beyond the generic throttling/5xx ones.
_TRANSIENT_CODES = frozenset(
    {"ModelNotReadyException", "ModelTimeoutException", "ServiceQuotaExceededException"}
)


def classify(err: Exception, what: str) -> Exception:
    """Map an exception from a runtime call to :class:`RetryCall` or a captioning error.

    ``what`` names the model or endpoint, for a readable reason.
    """
    if isinstance(err, NoCredentialsError):
        return BackendUnavailableError(f"no AWS credentials to call {what}")
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or "no message"
        reason = f"{what}: {code}: {message}"
        if code in _TRANSIENT_CODES or is_transient_aws_error(err):
            return RetryCall(reason)
        return CaptioningError(reason)
    if is_transient_aws_error(err):
        return RetryCall(f"{what}: {type(err).__name__}: {err}")
    if isinstance(err, BotoCoreError):
        return CaptioningError(f"{what}: {type(err).__name__}: {err}")
    return err
