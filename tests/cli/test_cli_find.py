"""``videosense find``: a user searches the videos a running ``videosense up`` finished, from
another process that has no AWS settings of its own (the stack indexes into the library
index, which ``find`` reads)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.pictures import two_cards_clip

pytestmark = pytest.mark.e2e


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}


def test_find_text_on_a_running_stack(tmp_path: Path) -> None:
    clip = two_cards_clip(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosense", "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env(),
    )
    try:
        # GIVEN a running stack that finished the two-card clip with recognition
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        info = json.loads("".join(lines))
        s3 = boto3.client(
            "s3",
            endpoint_url=info["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.upload_file(
            str(clip),
            info["bucket"],
            f"{info['uploads_prefix']}cards.mp4",
            ExtraArgs={"Metadata": {"videosense-stages": "frames,recognition"}},
        )
        deadline = time.monotonic() + 120
        keys: list[str] = []
        while not keys and time.monotonic() < deadline:
            listed = s3.list_objects_v2(Bucket=info["bucket"], Prefix="documents/")
            keys = [o["Key"] for o in listed.get("Contents", [])]
            time.sleep(0.5)
        assert keys, "no finished document within 120 s"
        document = json.loads(s3.get_object(Bucket=info["bucket"], Key=keys[0])["Body"].read())
        second_scene = [k for k in document["keyframes"] if k["scene_index"] == 1]
        assert second_scene

        # WHEN another process, with no AWS environment, searches a phrase of the second card
        # in the library index the stack's indexer fills (once the indexer has got to it)
        videos: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not videos and time.monotonic() < deadline:
            found = subprocess.run(
                [sys.executable, "-m", "videosense", "find", "--text", "Weather Report", "--json"],
                capture_output=True, text=True, env=_clean_env(), timeout=60, check=False,
            )  # fmt: skip
            if found.returncode == 0:
                videos = json.loads(found.stdout)["videos"]
            time.sleep(0.5)
        # THEN it lists that video at the second scene's keyframes, with their JPEG keys
        assert [v["video_id"] for v in videos] == [document["video_id"]], found.stderr
        hits = sorted(videos[0]["hits"], key=lambda h: h["t_s"])
        assert [(h["t_s"], h["image"]["key"]) for h in hits] == [
            (k["t_s"], k["image"]["key"]) for k in second_scene
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code in (0, 130), proc.stderr.read() if proc.stderr else ""
