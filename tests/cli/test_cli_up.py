"""``videosense up``: a user copies a file in with any S3 client and reads the completion event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.support.clips import make_cut_clip

pytestmark = pytest.mark.e2e


def test_up_serves_uploads_until_interrupted(tmp_path: Path) -> None:
    clip = make_cut_clip(tmp_path / "clip.mp4", cut_frames=[20], total_frames=40, audio=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosense", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # GIVEN the stack is up and has printed where it is
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        info = json.loads("".join(lines))
        client = {
            "endpoint_url": info["endpoint"],
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        sqs = boto3.client("sqs", **client)
        sns = boto3.client("sns", **client)
        s3 = boto3.client("s3", **client)
        # AND a user's own queue subscribed to the completion topic
        url = sqs.create_queue(QueueName="my-completions")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=info["completion_topic"],
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        # WHEN the user copies a video in
        s3.upload_file(str(clip), info["bucket"], f"{info['uploads_prefix']}my clip.mp4")
        # THEN a VideoCompleted arrives, pointing at the stored document
        deadline = time.monotonic() + 120
        event = None
        while event is None and time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
            event = json.loads(got[0]["Body"]) if got else None
        assert event is not None, "no VideoCompleted within 120 s"
        assert event["type"] == "VideoCompleted"
        assert event["status"] == "complete"
        doc = json.loads(
            s3.get_object(Bucket=event["document"]["bucket"], Key=event["document"]["key"])[
                "Body"
            ].read()
        )
        assert doc["source"]["key"] == "uploads/my clip.mp4"
        assert len(doc["scenes"]) == 2
    finally:
        # AND Ctrl-C stops it cleanly
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code in (0, 130), proc.stderr.read() if proc.stderr else ""
    # AND its emulator child went with it
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{info['endpoint']}/moto-api/", timeout=2)
