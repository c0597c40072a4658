"""``videosense dlq list|show|redrive``: see and replay what the pipeline dead-lettered.

Queue names and physical names come from the topology and ``VIDEOSENSE_PREFIX``, so the command
finds the same queues the services use (``docs/operations.md`` is the runbook).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from videosense.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from videosense.commands.endpoint import point_at
from videosense.dead_letter_queues import (
    DeadLetterQueue,
    Depth,
    QueueMissingError,
    UnknownQueueError,
    dead_letter_queues,
    depth,
    queue_url,
    resolve,
)
from videosense.dead_letters import PEEK_HOLD_S, DeadLetter, peek
from videosense.redrive import RedriveError, RedriveResult, redrive
from videosense_shared.aws import AwsClients
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import TOPOLOGY


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def add_parser(sub: Any) -> None:
    """Add ``dlq`` and its actions to the sub-command parsers."""
    dlq = sub.add_parser(
        "dlq",
        help="list, inspect and re-drive the dead-letter queues",
        description=(
            f"Every work queue ({', '.join(q.name for q in TOPOLOGY.queues)}) has a "
            "dead-letter queue. QUEUE is a work queue's name (e.g. captioner); physical names "
            "follow VIDEOSENSE_PREFIX."
        ),
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--endpoint", help="AWS endpoint, e.g. of a running `videosense up` (AWS_ENDPOINT_URL)"
        )

    listing = actions.add_parser(
        "list", help="each dead-letter queue with its approximate message counts"
    )
    listing.add_argument("queue", nargs="?", metavar="QUEUE", help="this queue only")
    common(listing)

    show = actions.add_parser(
        "show",
        help="the messages in one dead-letter queue, left in place",
        description=(
            f"Reads messages without consuming them: each is received with a {PEEK_HOLD_S} s "
            "visibility timeout, so no other reader sees it meanwhile, and released "
            "(VisibilityTimeout 0) before the command ends. Receiving adds one to a message's "
            "receive count."
        ),
    )
    show.add_argument("queue", metavar="QUEUE")
    show.add_argument(
        "--limit", type=_positive, default=10, metavar="N", help="at most N messages (10)"
    )
    common(show)

    move = actions.add_parser(
        "redrive",
        help="move the messages back to their work queue",
        description=(
            "Uses SQS's message-move task where the endpoint supports it, else moves messages "
            "one by one (sent to the work queue first, deleted from the dead-letter queue "
            "second: an interruption can duplicate a message, never lose it). With --max, "
            "always one by one."
        ),
    )
    move.add_argument("queue", metavar="QUEUE")
    move.add_argument(
        "--max", type=_positive, default=None, metavar="N", help="move at most N messages"
    )
    common(move)


def run(args: argparse.Namespace) -> int:
    """Run ``videosense dlq ...``; returns the exit code."""
    try:
        common = CommonSettings()
        queues = (
            [resolve(args.queue, common)] if args.queue is not None else dead_letter_queues(common)
        )
    except (UnknownQueueError, ValidationError) as err:
        error(str(err))
        return EXIT_USAGE
    point_at(args.endpoint)
    try:
        if args.dlq_command == "list":
            return _print_depths(asyncio.run(list_depths(common, queues)), args.json)
        if args.dlq_command == "show":
            letters, unreleased = asyncio.run(show(common, queues[0], args.limit))
            _print_letters(queues[0], letters, unreleased, args.json)
            return EXIT_OK
        result = asyncio.run(move_back(common, queues[0], args.max, quiet=args.json))
    except QueueMissingError as err:
        error(f"{err} (is the stack provisioned there, with VIDEOSENSE_PREFIX={common.prefix}?)")
        return EXIT_FAILED
    except RedriveError as err:
        error(f"{err}; {err.moved} message(s) moved")
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as err:
        error(f"SQS: {err}")
        return EXIT_FAILED
    _print_redrive(queues[0], result, args.json)
    return EXIT_OK


async def list_depths(common: CommonSettings, queues: list[DeadLetterQueue]) -> list[Depth]:
    """The message counts of ``queues``.

    Raises:
        botocore.exceptions.ClientError: SQS refused a request.
        botocore.exceptions.BotoCoreError: SQS cannot be reached, or no credentials.
    """
    async with AwsClients(common.region) as aws:
        return list(await asyncio.gather(*(depth(aws.sqs, queue) for queue in queues)))


async def show(
    common: CommonSettings, queue: DeadLetterQueue, limit: int
) -> tuple[list[DeadLetter], int]:
    """Up to ``limit`` messages of ``queue``, left in it, and how many could not be released.

    Raises:
        QueueMissingError: the queue does not exist at this endpoint.
        botocore.exceptions.ClientError: SQS refused a request.
        botocore.exceptions.BotoCoreError: SQS cannot be reached, or no credentials.
    """
    async with AwsClients(common.region) as aws:
        return await peek(aws.sqs, await queue_url(aws.sqs, queue.name), limit)


async def move_back(
    common: CommonSettings, queue: DeadLetterQueue, max_messages: int | None, *, quiet: bool
) -> RedriveResult:
    """Move the messages of ``queue`` back to its work queue, with progress on stderr.

    Raises:
        QueueMissingError: the DLQ or its work queue does not exist at this endpoint.
        RedriveError: SQS's message-move task failed or was cancelled.
        botocore.exceptions.ClientError: SQS refused a request.
        botocore.exceptions.BotoCoreError: SQS cannot be reached, or no credentials.
    """
    last: list[tuple[int, int | None]] = []

    def progress(moved: int, to_move: int | None) -> None:
        # Each change once: the move task is polled every second.
        if not quiet and to_move is not None and [(moved, to_move)] != last:
            print(f"videosense: moved {moved} of about {to_move}", file=sys.stderr, flush=True)
            last[:] = [(moved, to_move)]

    async with AwsClients(common.region) as aws:
        return await redrive(aws, queue, max_messages=max_messages, on_progress=progress)


def _print_depths(depths: list[Depth], as_json: bool) -> int:
    missing = [d.queue.name for d in depths if d.visible is None]
    if as_json:
        print(json.dumps([d.to_json() for d in depths], indent=2))
    else:
        width = max(len(d.queue.name) for d in depths)
        print(f"{'QUEUE':<16} {'DEAD-LETTER QUEUE':<{width}} {'MESSAGES':>8} {'IN FLIGHT':>9}")
        for d in depths:
            counts = (
                f"{d.visible:>8} {d.in_flight:>9}" if d.visible is not None else "missing".rjust(8)
            )
            print(f"{d.queue.source:<16} {d.queue.name:<{width}} {counts}")
    if missing:
        error(f"not found at this endpoint: {', '.join(missing)} (is the stack provisioned?)")
        return EXIT_FAILED
    return EXIT_OK


def _print_letters(
    queue: DeadLetterQueue, letters: list[DeadLetter], unreleased: int, as_json: bool
) -> None:
    if as_json:
        print(json.dumps([letter.to_json() for letter in letters], indent=2))
    else:
        for letter in letters:
            sent = letter.sent_at.strftime("%Y-%m-%d %H:%M:%S UTC") if letter.sent_at else "?"
            print(f"message {letter.message_id}")
            print(f"  video    {', '.join(letter.video_ids) or '?'}")
            print(f"  type     {letter.message_type or '?'}")
            reason = letter.reason or "none given: SQS moved it after the queue's receive limit"
            print(f"  reason   {reason}")
            print(f"  sent     {sent}   receives {letter.receive_count}")
            print(f"  body     {letter.body_excerpt}  ({letter.body_chars} chars)")
    print(
        f"videosense: {len(letters)} message(s) shown from {queue.name}, left in the queue",
        file=sys.stderr,
    )
    if unreleased:
        print(
            f"videosense: {unreleased} stay hidden for up to {PEEK_HOLD_S} s (release refused)",
            file=sys.stderr,
        )


def _print_redrive(queue: DeadLetterQueue, result: RedriveResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"queue": queue.source, **vars(result)}))
        return
    print(f"moved {result.moved} message(s) from {queue.name} to {queue.source_name}")
    print(f"videosense: moved by {result.method}", file=sys.stderr)
    if result.came_back:
        print(
            f"videosense: {result.came_back} failed again at once and stay in {queue.name}",
            file=sys.stderr,
        )
