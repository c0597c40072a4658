"""The DynamoDB table the document lives in, with the few write patterns every part of the
store uses: a conditional update of the header and batched puts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from videosense_shared.bus.backoff import jittered_delay_s
from videosense_shared.store.codec import header_key

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

_BATCH = 25  # BatchWriteItem's limit
# Unprocessed batch items mean throttling: retry soon, then less often; give up after this many
# tries with an error (the message is retried later as a whole).
_BATCH_ATTEMPTS = 8
_BATCH_BACKOFF_BASE_S = 0.05
_BATCH_BACKOFF_CAP_S = 2.0


def is_condition_failure(err: ClientError) -> bool:
    """True when DynamoDB refused a write because its condition did not hold."""
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


class DynamoTable:
    """A DynamoDB client bound to the document table."""

    def __init__(self, dynamodb: DynamoDBClient, name: str) -> None:
        self.db = dynamodb
        self.name = name

    async def update_header(
        self,
        video_id: str,
        update: str,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Update the video's header; ``False`` when ``condition`` did not hold.

        Raises:
            botocore.exceptions.ClientError: DynamoDB refused for another reason.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": header_key(video_id),
            "UpdateExpression": update,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            await self.db.update_item(**kwargs)
        except ClientError as err:
            if is_condition_failure(err):
                return False
            raise
        return True

    async def put_all(self, items: Iterable[dict[str, Any]]) -> None:
        """Put items in batches of 25 (idempotent puts only: a retried batch repeats them).

        Raises:
            RuntimeError: DynamoDB kept leaving items unprocessed (sustained throttling).
            botocore.exceptions.ClientError: DynamoDB refused the batch.
        """
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == _BATCH:
                await self._write_batch(batch)
                batch = []
        if batch:
            await self._write_batch(batch)

    async def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = {self.name: requests}
        for attempt in range(1, _BATCH_ATTEMPTS + 1):
            resp = await self.db.batch_write_item(RequestItems=pending)  # type: ignore[arg-type]
            unprocessed = resp.get("UnprocessedItems") or {}
            if not unprocessed:
                return
            pending = unprocessed  # type: ignore[assignment]
            await asyncio.sleep(
                jittered_delay_s(attempt, base_s=_BATCH_BACKOFF_BASE_S, cap_s=_BATCH_BACKOFF_CAP_S)
            )
        raise RuntimeError(f"DynamoDB left items unprocessed after {_BATCH_ATTEMPTS} attempts")
