"""cfn-lint and checkov pass on the synthesized templates (suppressions are justified inline,
as ``Metadata.checkov.skip`` entries with a comment).

Both scanners take ~15 s on these templates; they run side by side, once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, Synthesized


@dataclass(frozen=True)
class Scan:
    """What one scanner printed, and how it exited."""

    returncode: int
    output: str


def _checkov() -> str:
    # checkov pins an old botocore that aiobotocore cannot share: it lives in its own venv.
    candidates = [os.environ.get("CHECKOV", ""), str(ROOT / ".venv-checkov/bin/checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("checkov")
    if found is None:
        pytest.fail(
            "checkov not found: python3 -m venv .venv-checkov && "
            ".venv-checkov/bin/pip install checkov==3.3.30 (or set CHECKOV=/path/to/checkov)"
        )
    return found


@pytest.fixture(scope="session")
def scans(synthesized: dict[str, Synthesized]) -> dict[str, Scan]:
    """cfn-lint and checkov over both templates, run concurrently."""
    templates = [str(s.outdir / f"{s.stack_name}.template.json") for s in synthesized.values()]
    commands = {
        # The console script beside this interpreter (cfn-lint also comes with moto).
        "cfn-lint": [str(Path(sys.executable).parent / "cfn-lint"), *templates],
        "checkov": [
            _checkov(),
            *[arg for t in templates for arg in ("-f", t)],
            "--framework",
            "cloudformation",
            "--compact",
            "--quiet",
            "--skip-download",  # offline: no guideline download
        ],
    }
    running = {
        name: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, command in commands.items()
    }
    out = {}
    for name, process in running.items():
        output, _ = process.communicate(timeout=300)
        out[name] = Scan(process.returncode, output)
    return out


def test_cfn_lint_passes(scans: dict[str, Scan]) -> None:
    # GIVEN both synthesized templates WHEN cfn-lint checks them THEN it reports nothing.
    scan = scans["cfn-lint"]
    assert scan.returncode == 0, scan.output
    assert scan.output.strip() == ""


def test_checkov_passes(scans: dict[str, Scan]) -> None:
    # GIVEN both synthesized templates WHEN checkov scans them THEN no check fails.
    scan = scans["checkov"]
    assert scan.returncode == 0, scan.output[-5000:]
    assert "Failed checks: 0" in scan.output
    assert "Passed checks: " in scan.output


def test_every_checkov_skip_says_why(synthesized: dict[str, Synthesized]) -> None:
    # GIVEN the suppressions in the templates WHEN read THEN each names a check and a reason.
    skips = [
        skip
        for stack in synthesized.values()
        for resource in stack.template["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for skip in skips:
        assert skip["id"].startswith(("CKV_", "CKV2_")), skip
        assert len(skip["comment"]) > 30, skip
