"""Publishing contract messages on SNS topics by their logical name."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pydantic

from videosense_shared.bus.envelope import LOG_CONTEXT_ATTRIBUTES
from videosense_shared.bus.errors import RetryableError, is_transient_aws_error
from videosense_shared.logs import get_logger

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import MessageAttributeValueTypeDef
    from types_aiobotocore_sts import STSClient

    from videosense_shared.settings import CommonSettings

#: SNS rejects a message whose body plus attributes exceed 256 KiB.
SNS_MAX_MESSAGE_BYTES = 262_144

#: Model fields copied into SNS message attributes, so that subscriptions can filter on them
#: and consumers can bind log context before (or without) parsing the body.
ATTRIBUTE_FIELDS = ("type", *LOG_CONTEXT_ATTRIBUTES)

_log = get_logger("videosense.bus.publisher")


def message_attributes(message: pydantic.BaseModel) -> dict[str, MessageAttributeValueTypeDef]:
    """Return the SNS message attributes for a model: its ``type`` and identifying ids.

    Only non-empty string fields are used, since SNS refuses empty attribute values.
    """
    out: dict[str, MessageAttributeValueTypeDef] = {}
    for field in ATTRIBUTE_FIELDS:
        value = getattr(message, field, None)
        if isinstance(value, str) and value:
            out[field] = {"DataType": "String", "StringValue": value}
    return out


def _payload_size(body: str, attributes: dict[str, MessageAttributeValueTypeDef]) -> int:
    # SNS counts attribute names, data types and values towards the message size.
    size = len(body.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode("utf-8")) + len(value["DataType"].encode("utf-8"))
        size += len(value.get("StringValue", "").encode("utf-8"))
    return size


class Publisher:
    """Publishes contract messages on the topics of one videosense deployment.

    Topics are addressed by logical name (``"video-ingested"``); the physical name comes from
    :meth:`CommonSettings.topic_name` and the ARN is built from the region and the caller's
    account, looked up once with STS. Building the ARN (rather than calling ``CreateTopic`` or
    listing topics) needs no SNS permissions beyond ``sns:Publish``.
    """

    def __init__(self, sns: SNSClient, sts: STSClient, common: CommonSettings) -> None:
        self._sns = sns
        self._sts = sts
        self._common = common
        self._arns: dict[str, str] = {}
        self._account: tuple[str, str] | None = None  # (partition, account id)
        self._lock = asyncio.Lock()

    async def _partition_and_account(self) -> tuple[str, str]:
        if self._account is None:
            # The lock makes concurrent first publishes share one STS call.
            async with self._lock:
                if self._account is None:
                    identity = await self._sts.get_caller_identity()
                    # The partition (aws, aws-cn, aws-us-gov) comes from the caller's own ARN,
                    # so the topic ARN is right outside the standard partition too.
                    caller_arn = identity.get("Arn", "")
                    parts = caller_arn.split(":")
                    partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
                    self._account = (partition, identity["Account"])
        return self._account

    async def topic_arn(self, topic: str) -> str:
        """Return (and cache) the ARN of the logical topic ``topic``.

        Raises:
            RetryableError: STS is throttling or unreachable.
            botocore.exceptions.ClientError: STS refused the call (e.g. no credentials).
        """
        arn = self._arns.get(topic)
        if arn is None:
            try:
                partition, account = await self._partition_and_account()
            except Exception as exc:
                if is_transient_aws_error(exc):
                    raise RetryableError(f"sts:GetCallerIdentity failed: {exc}") from exc
                raise
            name = self._common.topic_name(topic)
            arn = f"arn:{partition}:sns:{self._common.region}:{account}:{name}"
            self._arns[topic] = arn
        return arn

    async def publish(self, topic: str, message: pydantic.BaseModel) -> None:
        """Publish ``message`` as JSON on the logical topic ``topic``.

        The body is ``message.model_dump_json()``; the message attributes carry ``type``,
        ``video_id``, ``trace_id`` and ``message_id`` when the model has them. botocore's own
        retries (standard mode) run before anything is raised.

        Raises:
            RetryableError: SNS or STS throttled the call, failed with a 5xx, timed out or could
                not be reached; the caller's message should be retried later.
            ValueError: the message is larger than SNS accepts (256 KiB); large results belong
                in S3, referenced from the message (claim check).
            botocore.exceptions.ClientError: any other refusal (missing topic, access denied),
                which retrying will not fix.
        """
        body = message.model_dump_json()
        attributes = message_attributes(message)
        size = _payload_size(body, attributes)
        if size > SNS_MAX_MESSAGE_BYTES:
            raise ValueError(
                f"{type(message).__name__} is {size} bytes, above SNS's limit of "
                f"{SNS_MAX_MESSAGE_BYTES}: store the bulk in S3 and publish a reference"
            )
        arn = await self.topic_arn(topic)
        try:
            response = await self._sns.publish(
                TopicArn=arn, Message=body, MessageAttributes=attributes
            )
        except Exception as exc:
            if is_transient_aws_error(exc):
                raise RetryableError(f"sns:Publish to {arn} failed: {exc}") from exc
            raise
        _log.debug(
            "published",
            topic=topic,
            type=getattr(message, "type", type(message).__name__),
            sns_message_id=response.get("MessageId"),
        )
