"""The one place AWS clients are created.

The endpoint is never passed explicitly: botocore honours the standard ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` variables, so the same code runs against AWS, LocalStack or moto.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sts import STSClient


class AwsClients:
    """Async clients for the AWS services videosense uses, opened and closed together.

    Use as ``async with AwsClients(region) as aws: await aws.s3.put_object(...)``.
    """

    def __init__(self, region: str, *, session: AioSession | None = None, pool: int = 50) -> None:
        self._region = region
        self._session = session or get_session()
        self._config = AioConfig(
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=pool,
            connect_timeout=10,
            read_timeout=70,  # above the 20 s SQS long poll
        )
        self._stack = AsyncExitStack()

    @property
    def region(self) -> str:
        """Region the clients talk to."""
        return self._region

    async def __aenter__(self) -> Self:
        stack = self._stack
        make = self._session.create_client
        self.s3: S3Client = await stack.enter_async_context(
            make("s3", region_name=self._region, config=self._config)
        )
        self.sqs: SQSClient = await stack.enter_async_context(
            make("sqs", region_name=self._region, config=self._config)
        )
        self.sns: SNSClient = await stack.enter_async_context(
            make("sns", region_name=self._region, config=self._config)
        )
        self.dynamodb: DynamoDBClient = await stack.enter_async_context(
            make("dynamodb", region_name=self._region, config=self._config)
        )
        self.sts: STSClient = await stack.enter_async_context(
            make("sts", region_name=self._region, config=self._config)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
