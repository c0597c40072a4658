"""``videosense dlq``: an operator, in another process with only ``--endpoint`` and the prefix,
sees what a consumer dead-lettered, reads why, and re-drives it to the work queue."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.support.waiting import eventually, receive_all
from videosense_shared.aws import AwsClients
from videosense_shared.bus import ERROR_ATTRIBUTE, Consumer, Delivery, PoisonMessage
from videosense_shared.provision import provision
from videosense_shared.settings import CommonSettings, ConsumerSettings

pytestmark = pytest.mark.e2e

BODY = '{"type": "FramesExtracted", "video_id": "v0123456789ab", "keyframes": "none"}'


def dlq(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``videosense dlq ARGS --endpoint E`` with no AWS endpoint in the environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    clean.update({k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"})
    return subprocess.run(
        [sys.executable, "-m", "videosense", "dlq", *args, "--endpoint", env["AWS_ENDPOINT_URL"]],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
        check=False,
    )


async def test_an_operator_sees_why_and_redrives(aws_env: dict[str, str]) -> None:
    common = CommonSettings()
    async with AwsClients(common.region) as aws:
        # GIVEN the topology, and a message the captioner's consumer rejected as poison
        provisioned = await provision(aws, common)
        queue_url = provisioned.queue_urls["captioner"]
        dlq_url = provisioned.queue_urls["captioner-dlq"]
        await aws.sqs.send_message(QueueUrl=queue_url, MessageBody=BODY)

        async def reject(delivery: Delivery) -> None:
            raise PoisonMessage("keyframes: Input should be a valid list")

        settings = ConsumerSettings(wait_time_s=1, visibility_timeout_s=5)
        stop = asyncio.Event()
        task = asyncio.create_task(
            Consumer(aws.sqs, queue_url, reject, settings, name="captioner").run(stop)
        )

        async def dead_lettered() -> bool:
            response = await aws.sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            return response["Attributes"]["ApproximateNumberOfMessages"] == "1"

        await eventually(dead_lettered, timeout_s=20, what="the poison in the captioner DLQ")
        stop.set()
        await asyncio.wait_for(task, timeout=30)

        # WHEN the operator lists the dead-letter queues
        listed = await asyncio.to_thread(dlq, aws_env, "list", "--json")
        # THEN the captioner's holds one message
        assert listed.returncode == 0, listed.stderr
        counts = {e["queue"]: e["messages"] for e in json.loads(listed.stdout)}
        assert counts["captioner"] == 1
        assert sum(counts.values()) == 1

        # WHEN they look at it
        shown = await asyncio.to_thread(dlq, aws_env, "show", "captioner")
        # THEN they read why, for which video, and what it is, and it stays in the queue
        assert shown.returncode == 0, shown.stderr
        assert "reason   keyframes: Input should be a valid list" in shown.stdout
        assert "video    v0123456789ab" in shown.stdout
        assert "type     FramesExtracted" in shown.stdout
        assert await dead_lettered()

        # WHEN they re-drive it
        moved = await asyncio.to_thread(dlq, aws_env, "redrive", "captioner")
        # THEN it is back on the captioner queue, body intact, and gone from the DLQ
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.startswith("moved 1 message(s)")
        back = await receive_all(aws.sqs, queue_url)
        assert [m["Body"] for m in back] == [BODY]
        if "receive-and-send" in moved.stderr:
            assert ERROR_ATTRIBUTE not in back[0].get("MessageAttributes", {})
        assert not await dead_lettered()
        assert (await aws.sqs.receive_message(QueueUrl=dlq_url)).get("Messages") is None
