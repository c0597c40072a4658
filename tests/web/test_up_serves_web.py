"""``videosense up`` serves the web app on 127.0.0.1 beside the embedded stack and prints where."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_up_prints_and_serves_the_web_app(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOSENSE_"))}
    env["XDG_DATA_HOME"] = str(tmp_path)  # the search index file, away from the user's own
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosense", "up", "--web-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # GIVEN the stack is up and has printed where everything is
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        web = json.loads("".join(lines))["web"]
        # THEN the web app answers on 127.0.0.1, with its API, its schema and the library page
        assert web.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{web}/api/health", timeout=10) as resp:
            assert json.load(resp) == {"status": "ok"}
        with urllib.request.urlopen(f"{web}/api/videos", timeout=10) as resp:
            assert json.load(resp)["videos"] == []
        with urllib.request.urlopen(f"{web}/api/openapi.json", timeout=10) as resp:
            assert "/api/search" in json.load(resp)["paths"]
        with urllib.request.urlopen(f"{web}/", timeout=10) as resp:
            assert "upload-form" in resp.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    # AND Ctrl-C stops everything cleanly
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
