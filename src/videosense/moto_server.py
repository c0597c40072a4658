"""The embedded emulator's server process: moto, with its DynamoDB made safe for concurrent use.

moto's server handles requests on threads, and its DynamoDB is not safe for that:
``TransactWriteItems`` deep-copies the whole table first and, when the transaction is cancelled
(a condition failed, as when the same chunk is counted twice), puts the copy back, silently
discarding every write other requests made to that table meanwhile; conditional writes check
and write in two steps, so two racing writers can both succeed. Real DynamoDB does neither. A
pipeline under redelivery (crashes, duplicates, racing sweepers) meets both, so on plain moto an
item vanishes now and then (a scene, a chunk counter, a header) and a video ends wrong or never.

Its S3 is patched to stream object bodies instead of reading them whole
(:mod:`videosense.moto_s3`). Only DynamoDB is serialised: the other services keep moto's
threads, so SQS long polls still wait side by side. Run as
``python -m videosense.moto_server -H 127.0.0.1 -p PORT`` (moto.server's arguments);
:class:`videosense.emulator.Emulator` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from videosense.moto_s3 import patch_moto_s3


def serialise_dynamodb() -> None:
    """Make moto's DynamoDB answer one request at a time, in this process."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    call: Callable[[Any], Any] = DynamoHandler.call_action

    def one_at_a_time(self: Any) -> Any:
        with lock:
            return call(self)

    DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]


def main() -> None:
    """Run moto's server (command-line arguments as ``python -m moto.server``)."""
    serialise_dynamodb()
    # Objects are streamed, not read whole, whatever their size (see videosense.moto_s3).
    patch_moto_s3()
    from moto.server import main as moto_main

    moto_main()


if __name__ == "__main__":
    main()
