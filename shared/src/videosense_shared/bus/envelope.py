"""The SNS->SQS envelope, written down once.

A message published on SNS reaches a subscribed SQS queue in one of two shapes:

- with raw message delivery (what the videosense topology configures), the SQS body *is* the
  published message and the SNS message attributes become SQS ``MessageAttributes``
  (``{"k": {"DataType": "String", "StringValue": "..."}}``);
- without it, the SQS body is an SNS ``Notification`` JSON document whose ``Message`` field
  holds the published message and whose ``MessageAttributes`` look like
  ``{"k": {"Type": "String", "Value": "..."}}``.

:func:`unwrap` accepts both, so a subscription created by hand without raw delivery still works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic

from videosense_shared.bus.errors import PoisonMessage

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

T = TypeVar("T")

#: Attributes that identify a message in logs; bound to every log line about it.
LOG_CONTEXT_ATTRIBUTES = ("video_id", "trace_id", "message_id")

# How much of a validation error goes into a reason: enough to read, small enough to fit in an
# SQS message attribute next to the message.
_MAX_REASON_ERRORS = 5
_MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class Delivery:
    """One message as a handler sees it: the published body and its string attributes.

    ``body`` and ``attributes`` are already unwrapped from any SNS envelope. ``receive_count``
    is SQS's ``ApproximateReceiveCount`` (1 on the first delivery). ``max_receives`` is the
    queue's redrive ``maxReceiveCount`` (``None`` when the queue has no dead-letter queue): SQS
    moves the message to the dead-letter queue instead of delivering it again after that many
    receives. ``sqs_message_id`` is only for logs: idempotency must be keyed on content or
    lineage, never on it.
    """

    body: str
    attributes: dict[str, str]
    sqs_message_id: str
    receive_count: int
    max_receives: int | None = None

    @property
    def is_last(self) -> bool:
        """True on the last delivery SQS allows before it dead-letters the message.

        A stage must not retry from here: whatever it does instead (give up with a reason) is
        the only chance left to tell the video's document why the stage ended.
        """
        return self.max_receives is not None and self.receive_count >= self.max_receives


def _sqs_attributes(message_attributes: Mapping[str, Mapping[str, object]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in message_attributes.items():
        # String and Number attributes both travel as StringValue; Binary ones carry nothing a
        # videosense handler reads, so they are dropped rather than decoded.
        string_value = value.get("StringValue")
        if isinstance(string_value, str):
            out[key] = string_value
    return out


def _sns_attributes(message_attributes: object) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(message_attributes, dict):
        return out
    for key, value in message_attributes.items():
        if not isinstance(value, dict):
            continue
        kind = value.get("Type")
        raw = value.get("Value")
        # Binary values arrive base64-encoded; like above, only textual ones are kept.
        if isinstance(key, str) and isinstance(raw, str) and kind != "Binary":
            out[key] = raw
    return out


def _as_sns_notification(body: str) -> dict[str, Any] | None:
    # Cheap test first: raw bodies (the common case) never pay for a second JSON parse.
    if '"Notification"' not in body or '"TopicArn"' not in body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(doc, dict)
        and doc.get("Type") == "Notification"
        and isinstance(doc.get("Message"), str)
        and isinstance(doc.get("TopicArn"), str)
    ):
        return doc
    return None


def unwrap(
    body: str, message_attributes: Mapping[str, Mapping[str, object]] | None
) -> tuple[str, dict[str, str]]:
    """Return the published message and its string attributes from an SQS message.

    Args:
        body: the SQS message body.
        message_attributes: the SQS ``MessageAttributes`` of the message (may be empty).

    Returns:
        ``(message, attributes)``. For a raw delivery that is the body itself and the SQS
        attributes; for an SNS ``Notification`` envelope it is the inner ``Message`` and the
        envelope's attributes (which win over SQS attributes of the same name).

    Never raises: a body that is not an SNS envelope is returned unchanged, and whether it is a
    valid message is for :func:`parse_typed` to decide.
    """
    attributes = _sqs_attributes(message_attributes or {})
    notification = _as_sns_notification(body)
    if notification is None:
        return body, attributes
    attributes.update(_sns_attributes(notification.get("MessageAttributes")))
    return str(notification["Message"]), attributes


def delivery_from_sqs(message: MessageTypeDef, *, max_receives: int | None = None) -> Delivery:
    """Build the :class:`Delivery` a handler receives from one ``ReceiveMessage`` entry
    (``max_receives``: the queue's redrive ``maxReceiveCount``, if it has one)."""
    body, attributes = unwrap(message.get("Body", ""), message.get("MessageAttributes"))
    raw_count = message.get("Attributes", {}).get("ApproximateReceiveCount", "1")
    try:
        receive_count = max(1, int(raw_count))
    except ValueError:
        receive_count = 1
    return Delivery(
        body=body,
        attributes=attributes,
        sqs_message_id=message.get("MessageId", ""),
        receive_count=receive_count,
        max_receives=max_receives,
    )


def log_context(attributes: Mapping[str, str]) -> dict[str, str]:
    """Pick the attributes that identify a message in logs (``video_id``, ``trace_id``...)."""
    return {k: attributes[k] for k in LOG_CONTEXT_ATTRIBUTES if attributes.get(k)}


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """Render a validation error as one readable line, without echoing the (maybe huge) input."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:_MAX_REASON_ERRORS]:
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{loc}: {error['msg']}" if loc else str(error["msg"]))
    if len(errors) > _MAX_REASON_ERRORS:
        parts.append(f"... and {len(errors) - _MAX_REASON_ERRORS} more")
    noun = "error" if len(errors) == 1 else "errors"
    reason = f"{exc.title}: {len(errors)} validation {noun}: " + "; ".join(parts)
    return reason[:_MAX_REASON_CHARS]


def parse_typed(delivery: Delivery, adapter: pydantic.TypeAdapter[T]) -> T:
    """Parse the delivery's body as JSON into the adapter's type.

    Raises:
        PoisonMessage: the body is not JSON, or it does not validate (unknown field, wrong
            type, missing field, unknown message type). The reason names every offending
            field, e.g. ``"VideoIngested: 1 validation error: media.fps: Input should be a
            valid number"``.
    """
    try:
        return adapter.validate_json(delivery.body)
    except pydantic.ValidationError as exc:
        raise PoisonMessage(describe_validation_error(exc)) from exc
