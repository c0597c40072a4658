"""The emulator's DynamoDB under concurrent writers, as the pipeline drives it under redelivery.

moto's DynamoDB on its own is not safe for concurrent requests: a ``TransactWriteItems`` that is
cancelled (a condition failed) puts back a copy of the table taken before it, discarding what
other requests wrote meanwhile. Both emulators the tests run on serialise DynamoDB requests
(the embedded emulator in ``videosense.moto_server``, LocalStack through the project's DynamoDB
provider, docs/emulators.md); without that, writes racing cancelled transactions vanish.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from botocore.exceptions import ClientError

from videosense_shared.aws import AwsClients

pytestmark = pytest.mark.integration

#: Writers and cancelled transactions in flight at once, and the items written in all.
CONCURRENCY = 12
ITEMS = 240


async def test_writes_racing_cancelled_transactions_are_all_kept(aws_env: dict[str, str]) -> None:
    # GIVEN a table with one item that every transaction's condition fails on
    table = f"{aws_env['VIDEOSENSE_PREFIX']}-race"
    async with AwsClients("us-east-1", pool=CONCURRENCY + 4) as aws:
        db = aws.dynamodb
        await db.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        await db.put_item(TableName=table, Item={"pk": {"S": "taken"}})
        gate = asyncio.Semaphore(CONCURRENCY)
        cancelled = 0

        async def write(index: int) -> None:
            async with gate:
                await db.put_item(
                    TableName=table, Item={"pk": {"S": f"item-{index}"}, "n": {"N": str(index)}}
                )

        async def transaction() -> None:
            nonlocal cancelled
            async with gate:
                with pytest.raises(ClientError) as caught:
                    await db.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": table,
                                    "Item": {"pk": {"S": f"new-{uuid.uuid4().hex}"}},
                                }
                            },
                            {
                                "Put": {
                                    "TableName": table,
                                    "Item": {"pk": {"S": "taken"}},
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                        ]
                    )
                assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
                cancelled += 1

        # WHEN plain writes and cancelled transactions run side by side
        work = []
        for index in range(ITEMS):
            work += [write(index), transaction()]
        await asyncio.gather(*work)

        # THEN every transaction was cancelled and wrote nothing, and every plain write is kept
        assert cancelled == ITEMS
        found: set[str] = set()
        paginator = db.get_paginator("scan")
        async for page in paginator.paginate(TableName=table, ConsistentRead=True):
            found |= {item["pk"]["S"] for item in page["Items"]}
        assert found == {"taken"} | {f"item-{i}" for i in range(ITEMS)}
