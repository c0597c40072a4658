"""Pointing the AWS SDK at an endpoint given on the command line (``--endpoint``)."""

from __future__ import annotations

import os

from botocore.session import Session

from videosense.emulator import EMULATOR_ENV


def point_at(endpoint: str | None) -> None:
    """Send every AWS call of this process to ``endpoint`` (e.g. a running ``videosense up``).

    botocore reads ``AWS_ENDPOINT_URL`` itself, so the clients need no other change. When no
    credentials can be found at all, the emulator's dummy ones are used: an emulator accepts any,
    and real AWS behind a custom endpoint would reject them with a clear error anyway.
    """
    if not endpoint:
        return
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    if Session().get_credentials() is None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.setdefault(name, EMULATOR_ENV[name])
