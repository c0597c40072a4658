"""Test queues subscribed to a topic, to see (and count) everything published on it."""

from __future__ import annotations

from videosense_shared.aws import AwsClients
from videosense_shared.provision import subscribe_queue
from videosense_shared.settings import CommonSettings


async def tap(aws: AwsClients, common: CommonSettings, topic_arn: str, name: str) -> str:
    """A queue called ``name`` (under the deployment's prefix) receiving every message on
    ``topic_arn``, raw-delivery off like the services' own subscriptions; returns its URL."""
    url = (await aws.sqs.create_queue(QueueName=common.queue_name(name)))["QueueUrl"]
    got = await aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    await subscribe_queue(aws, topic_arn, got["Attributes"]["QueueArn"], None)
    return url
