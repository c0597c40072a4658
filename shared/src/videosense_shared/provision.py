"""Create the topology on any endpoint (AWS, LocalStack, moto), idempotently.

Used by the tests, ``videosense run``/``up`` and the compose init step. Production uses the CDK
stack generated from the same :data:`~videosense_shared.topology.TOPOLOGY`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from videosense_shared.aws import AwsClients
from videosense_shared.logs import get_logger
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import (
    DUE_INDEX,
    DUE_PARTITION_KEY,
    DUE_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    TOPOLOGY,
    Topology,
)

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        GlobalSecondaryIndexTypeDef,
    )

log = get_logger(__name__)


@dataclass
class Provisioned:
    """Physical identifiers of what was provisioned."""

    bucket: str
    table: str
    topic_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)


async def provision(
    aws: AwsClients, common: CommonSettings, topology: Topology = TOPOLOGY
) -> Provisioned:
    """Create bucket, table, topics, queues (with DLQs), subscriptions and the notification.

    Every step tolerates the resource already existing, so running it twice changes nothing.

    Raises:
        botocore.exceptions.ClientError: the endpoint refused a call for another reason.
    """
    out = Provisioned(bucket=common.bucket, table=common.table_name)
    await _bucket(aws, common.bucket)
    await _table(aws, common.table_name)
    for topic in topology.topics:
        resp = await aws.sns.create_topic(Name=common.topic_name(topic))
        out.topic_arns[topic] = resp["TopicArn"]
    for queue in topology.queues:
        dlq_url = await _queue(aws, common.queue_name(queue.dlq_name), {})
        dlq_arn = await _queue_arn(aws, dlq_url)
        source_arns = [out.topic_arns[s.topic] for s in queue.subscriptions]
        if queue.receives_uploads:
            source_arns.append(f"arn:aws:s3:::{common.bucket}")
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "MessageRetentionPeriod": str(queue.retention_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
            ),
        }
        url = await _queue(aws, common.queue_name(queue.name), attributes)
        arn = await _queue_arn(aws, url)
        if source_arns:
            await aws.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": _queue_policy(arn, source_arns)}
            )
        out.queue_urls[queue.name] = url
        out.queue_arns[queue.name] = arn
        out.queue_urls[queue.dlq_name] = dlq_url
        for sub in queue.subscriptions:
            await subscribe_queue(aws, out.topic_arns[sub.topic], arn, sub.filter_policy())
    await _notification(aws, common, topology, out)
    log.info("provisioned", bucket=out.bucket, table=out.table, queues=len(out.queue_urls))
    return out


async def subscribe_queue(
    aws: AwsClients, topic_arn: str, queue_arn: str, filter_policy: dict[str, object] | None
) -> str:
    """Subscribe a queue to a topic with raw delivery; returns the subscription ARN.

    SNS returns the existing subscription when the same one is requested again, so this is
    idempotent.
    """
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    resp = await aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return resp["SubscriptionArn"]


def _queue_policy(queue_arn: str, source_arns: list[str]) -> str:
    # SNS and S3 need explicit permission to send into the queue.
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowVideosenseSources",
                    "Effect": "Allow",
                    "Principal": {"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": source_arns}},
                }
            ],
        }
    )


async def _bucket(aws: AwsClients, bucket: str) -> None:
    kwargs: dict[str, object] = {"Bucket": bucket}
    if aws.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": aws.region}
    try:
        await aws.s3.create_bucket(**kwargs)  # type: ignore[arg-type]
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


_DUE_INDEX: GlobalSecondaryIndexTypeDef = {
    "IndexName": DUE_INDEX,
    "KeySchema": [
        {"AttributeName": DUE_PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": DUE_SORT_KEY, "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
_DUE_ATTRIBUTES: list[AttributeDefinitionTypeDef] = [
    {"AttributeName": DUE_PARTITION_KEY, "AttributeType": "S"},
    {"AttributeName": DUE_SORT_KEY, "AttributeType": "S"},
]


async def _table(aws: AwsClients, table: str) -> None:
    try:
        await aws.dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "S"},
                *_DUE_ATTRIBUTES,
            ],
            KeySchema=[
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[_DUE_INDEX],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
    waiter = aws.dynamodb.get_waiter("table_exists")
    await waiter.wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    await _due_index(aws, table)


async def _due_index(aws: AwsClients, table: str) -> None:
    # A table provisioned by an older version has no "due" index: add it in place, so upgrading
    # keeps the documents. DynamoDB backfills it from the existing headers; until it is active
    # the deadline sweep's queries fail, are logged, and are tried again at the next sweep, so
    # nothing waits for it here.
    described = (await aws.dynamodb.describe_table(TableName=table))["Table"]
    if any(i["IndexName"] == DUE_INDEX for i in described.get("GlobalSecondaryIndexes", [])):
        return
    log.info("adding the due index", table=table)
    await aws.dynamodb.update_table(
        TableName=table,
        AttributeDefinitions=_DUE_ATTRIBUTES,
        GlobalSecondaryIndexUpdates=[{"Create": {**_DUE_INDEX}}],
    )


async def _queue(aws: AwsClients, name: str, attributes: dict[str, str]) -> str:
    try:
        resp = await aws.sqs.create_queue(QueueName=name, Attributes=attributes)  # type: ignore[arg-type]
        return resp["QueueUrl"]
    except ClientError as err:
        # Exists with other attributes (e.g. an older visibility timeout): update in place.
        if err.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
    url = (await aws.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    if attributes:
        await aws.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
    return url


async def _queue_arn(aws: AwsClients, url: str) -> str:
    resp = await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return resp["Attributes"]["QueueArn"]


async def _notification(
    aws: AwsClients, common: CommonSettings, topology: Topology, out: Provisioned
) -> None:
    configs = [
        {
            "Id": f"{common.prefix}-{queue.name}-uploads",
            "QueueArn": out.queue_arns[queue.name],
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {
                "Key": {"FilterRules": [{"Name": "prefix", "Value": common.uploads_prefix}]}
            },
        }
        for queue in topology.queues
        if queue.receives_uploads
    ]
    # Put replaces the whole configuration: the same call twice is idempotent.
    await aws.s3.put_bucket_notification_configuration(
        Bucket=common.bucket,
        NotificationConfiguration={"QueueConfigurations": configs},  # type: ignore[typeddict-item]
    )


def main() -> None:
    """``python -m videosense_shared.provision``: provision on the configured endpoint (the
    compose init step, or any AWS account for a quick trial)."""
    import asyncio

    from videosense_shared.logs import configure_logging

    common = CommonSettings()
    configure_logging(common.log_level, common.log_format)

    async def _run() -> None:
        async with AwsClients(common.region) as aws:
            result = await provision(aws, common)
        print(json.dumps({"topics": result.topic_arns, "queues": result.queue_urls}, indent=2))

    asyncio.run(_run())


if __name__ == "__main__":
    main()
