"""The SNS->SQS envelope and typed parsing, on real-shaped JSON event fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from videosense_shared.bus import Delivery, PoisonMessage, parse_typed, unwrap
from videosense_shared.bus.envelope import delivery_from_sqs, log_context
from videosense_shared.messages import AnyMessage, VideoIngested

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
VIDEO_INGESTED: TypeAdapter[VideoIngested] = TypeAdapter(VideoIngested)
ANY_MESSAGE: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)

EXPECTED_ATTRIBUTES = {
    "type": "VideoIngested",
    "video_id": "v6ea406cd8a25deccb86612e4",
    "trace_id": "ec401d56210f91c90e2c8ec431ed02ac",
    "message_id": "6de27cd408977f5c102330ba8755d091",
}


def _text(name: str) -> str:
    return (EVENTS / name).read_text().strip()


def _json(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def _delivery(body: str) -> Delivery:
    return Delivery(body=body, attributes={}, sqs_message_id="m-1", receive_count=1)


# ------------------------------------------------------------------------------------- unwrap


def test_raw_delivery_body_and_sqs_attributes_pass_through() -> None:
    # GIVEN an SQS message delivered from SNS with raw message delivery
    message = _json("sqs_receive_raw.json")["Messages"][0]

    # WHEN it is unwrapped
    body, attributes = unwrap(message["Body"], message["MessageAttributes"])

    # THEN the body is the published message and the attributes are the SQS string values
    assert body == _text("raw_delivery_body.json")
    assert attributes == EXPECTED_ATTRIBUTES


def test_sns_notification_envelope_yields_inner_message_and_its_attributes() -> None:
    # GIVEN the body SQS holds when the subscription does NOT use raw message delivery
    envelope = _text("sns_notification.json")

    # WHEN it is unwrapped (such bodies carry no SQS message attributes)
    body, attributes = unwrap(envelope, {})

    # THEN the inner message and the envelope's attributes come out
    assert body == _text("raw_delivery_body.json")
    assert attributes == EXPECTED_ATTRIBUTES


@pytest.mark.parametrize(
    ("fixture", "receive_count"),
    [
        pytest.param("sqs_receive_raw.json", 1, id="raw-delivery"),
        pytest.param("sqs_receive_sns_envelope.json", 3, id="sns-envelope"),
    ],
)
def test_both_delivery_shapes_give_the_same_delivery(fixture: str, receive_count: int) -> None:
    message = _json(fixture)["Messages"][0]

    delivery = delivery_from_sqs(message)

    assert delivery.body == _text("raw_delivery_body.json")
    assert delivery.attributes == EXPECTED_ATTRIBUTES
    assert delivery.receive_count == receive_count
    assert delivery.sqs_message_id == message["MessageId"]
    assert parse_typed(delivery, VIDEO_INGESTED).video_id == EXPECTED_ATTRIBUTES["video_id"]


def test_envelope_attributes_win_and_binary_attributes_are_dropped() -> None:
    envelope = json.loads(_text("sns_notification.json"))
    envelope["MessageAttributes"]["blob"] = {"Type": "Binary", "Value": "AAEC"}
    envelope["MessageAttributes"]["count"] = {"Type": "Number", "Value": "7"}
    sqs_attributes: dict[str, dict[str, object]] = {
        "video_id": {"DataType": "String", "StringValue": "from-sqs"},
        "extra": {"DataType": "String", "StringValue": "kept"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00"},
    }

    _, attributes = unwrap(json.dumps(envelope), sqs_attributes)

    assert attributes["video_id"] == EXPECTED_ATTRIBUTES["video_id"]
    assert attributes["extra"] == "kept"
    assert attributes["count"] == "7"
    assert "blob" not in attributes
    assert "raw" not in attributes


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"note": "Notification", "TopicArn": 3', id="malformed-json"),
        pytest.param(
            '{"Type": "Notification", "TopicArn": "arn", "Message": {"not": "a string"}}',
            id="message-not-a-string",
        ),
        pytest.param('{"kind": "Notification", "TopicArn": "x"}', id="no-type-field"),
        pytest.param('["Notification", "TopicArn"]', id="json-array"),
        pytest.param("", id="empty"),
    ],
)
def test_bodies_that_merely_look_like_envelopes_are_left_alone(body: str) -> None:
    assert unwrap(body, None) == (body, {})


def test_log_context_keeps_only_identifying_non_empty_attributes() -> None:
    attributes = {**EXPECTED_ATTRIBUTES, "trace_id": ""}
    assert log_context(attributes) == {
        "video_id": EXPECTED_ATTRIBUTES["video_id"],
        "message_id": EXPECTED_ATTRIBUTES["message_id"],
    }


def test_receive_count_defaults_to_one_when_absent_or_garbled() -> None:
    assert delivery_from_sqs({"Body": "x"}).receive_count == 1
    garbled = delivery_from_sqs({"Body": "x", "Attributes": {"ApproximateReceiveCount": "?"}})
    assert garbled.receive_count == 1


# ------------------------------------------------------------------------------- parse_typed


def test_parse_typed_returns_the_model() -> None:
    message = parse_typed(_delivery(_text("raw_delivery_body.json")), ANY_MESSAGE)
    assert isinstance(message, VideoIngested)
    assert message.media.fps == 25.0


def _mutated(change: dict[str, Any]) -> str:
    doc = json.loads(_text("raw_delivery_body.json"))
    for dotted, value in change.items():
        *path, last = dotted.split(".")
        target = doc
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("body", "adapter", "expected_in_reason"),
    [
        pytest.param("{not json", VIDEO_INGESTED, ["Invalid JSON"], id="malformed-json"),
        pytest.param("", VIDEO_INGESTED, ["Invalid JSON"], id="empty-body"),
        pytest.param(
            _mutated({"surprise": 1}),
            VIDEO_INGESTED,
            ["surprise", "Extra inputs are not permitted"],
            id="unknown-field",
        ),
        pytest.param(
            _mutated({"media.fps": "fast"}),
            VIDEO_INGESTED,
            ["media.fps", "valid number"],
            id="wrong-type",
        ),
        pytest.param(
            _mutated({"type": "VideoExploded"}),
            ANY_MESSAGE,
            ["type", "VideoExploded"],
            id="unknown-message-type",
        ),
    ],
)
def test_parse_typed_raises_poison_with_a_readable_reason(
    body: str, adapter: TypeAdapter[Any], expected_in_reason: list[str]
) -> None:
    with pytest.raises(PoisonMessage) as caught:
        parse_typed(_delivery(body), adapter)

    reason = caught.value.reason
    assert str(caught.value) == reason
    for fragment in expected_in_reason:
        assert fragment in reason
    assert len(reason) <= 1000


def test_poison_reason_does_not_echo_the_input_and_stays_short() -> None:
    # GIVEN a message with many invalid fields and a large value
    doc = json.loads(_text("raw_delivery_body.json"))
    doc.update({f"extra_{i}": "x" * 10_000 for i in range(20)})

    with pytest.raises(PoisonMessage) as caught:
        parse_typed(_delivery(json.dumps(doc)), VIDEO_INGESTED)

    assert "x" * 100 not in caught.value.reason
    assert "... and 15 more" in caught.value.reason
