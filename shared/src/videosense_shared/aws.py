"""The one place AWS clients are created.

The endpoint is never passed explicitly: botocore honours the standard ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` variables, so the same code runs against AWS, LocalStack or moto.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import NoCredentialsError

if TYPE_CHECKING:
    from botocore.credentials import ReadOnlyCredentials
    from httpx import AsyncClient
    from types_aiobotocore_bedrock_runtime import BedrockRuntimeClient
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_rekognition import RekognitionClient
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_sagemaker_runtime import SageMakerRuntimeClient
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sts import STSClient
    from types_aiobotocore_transcribe import TranscribeServiceClient


class AwsClients:
    """Async clients for the AWS services videosense uses, opened and closed together.

    Use as ``async with AwsClients(region) as aws: await aws.s3.put_object(...)``. The pipeline's
    own services (S3, SQS, SNS, DynamoDB, STS) open on entry; the AI services a stage backend may
    call open on first use, so a worker that never calls them never builds their clients.
    """

    def __init__(self, region: str, *, session: AioSession | None = None, pool: int = 50) -> None:
        self._region = region
        self._session = session or get_session()
        self._pool = pool
        self._config = AioConfig(
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=pool,
            connect_timeout=10,
            read_timeout=70,  # above the 20 s SQS long poll
        )
        self._stack = AsyncExitStack()
        self._lazy: dict[tuple[str, int, float], Any] = {}
        self._lazy_lock = asyncio.Lock()

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

    async def _client(self, service: str, max_attempts: int, read_timeout_s: float) -> Any:
        key = (service, max_attempts, read_timeout_s)
        async with self._lazy_lock:
            if key not in self._lazy:
                config = AioConfig(
                    retries={"mode": "standard", "max_attempts": max_attempts},
                    max_pool_connections=self._pool,
                    connect_timeout=10,
                    read_timeout=read_timeout_s,
                )
                # The typed overloads want a literal service name; ours is one of those below.
                context = self._session.create_client(  # type: ignore[call-overload]
                    service, region_name=self._region, config=config
                )
                self._lazy[key] = await self._stack.enter_async_context(context)
            return self._lazy[key]

    # A backend that retries throttling itself (to respect its own concurrency bound) asks for
    # max_attempts=1; otherwise botocore's standard retries apply first.

    async def bedrock_runtime(
        self, *, max_attempts: int = 5, read_timeout_s: float = 120.0
    ) -> BedrockRuntimeClient:
        """The Bedrock runtime client (created on first use)."""
        client: BedrockRuntimeClient = await self._client(
            "bedrock-runtime", max_attempts, read_timeout_s
        )
        return client

    async def sagemaker_runtime(
        self, *, max_attempts: int = 5, read_timeout_s: float = 120.0
    ) -> SageMakerRuntimeClient:
        """The SageMaker runtime client (created on first use)."""
        client: SageMakerRuntimeClient = await self._client(
            "sagemaker-runtime", max_attempts, read_timeout_s
        )
        return client

    async def rekognition(
        self, *, max_attempts: int = 5, read_timeout_s: float = 60.0
    ) -> RekognitionClient:
        """The Rekognition client (created on first use)."""
        client: RekognitionClient = await self._client("rekognition", max_attempts, read_timeout_s)
        return client

    async def transcribe(
        self, *, max_attempts: int = 5, read_timeout_s: float = 60.0
    ) -> TranscribeServiceClient:
        """The Transcribe client (created on first use)."""
        client: TranscribeServiceClient = await self._client(
            "transcribe", max_attempts, read_timeout_s
        )
        return client

    async def opensearch_http(self, *, service: str = "es", timeout_s: float = 30.0) -> AsyncClient:
        """An HTTP client that signs its requests for OpenSearch (created on each call, closed
        with these clients): ``service`` is ``es`` for a domain, ``aoss`` for Serverless.

        The endpoint comes from the search settings, not from here: OpenSearch is reached at
        its own URL, which ``AWS_ENDPOINT_URL`` does not describe.
        """
        import httpx

        from videosense_shared.sigv4 import SigV4Auth

        session = self._session

        async def credentials() -> ReadOnlyCredentials:
            found = await session.get_credentials()
            if found is None:
                raise NoCredentialsError()
            frozen: ReadOnlyCredentials = await found.get_frozen_credentials()
            return frozen

        client = httpx.AsyncClient(
            auth=SigV4Auth(credentials, service, self._region),
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=self._pool),
        )
        return await self._stack.enter_async_context(client)

    async def sqs_with_retries(
        self, *, max_attempts: int, read_timeout_s: float = 70.0
    ) -> SQSClient:
        """An SQS client with its own retry budget (created on first use).

        For a call whose failure the caller handles itself: e.g. ``max_attempts=1`` to learn at
        once that an endpoint does not support an action, instead of after botocore's retries.
        """
        client: SQSClient = await self._client("sqs", max_attempts, read_timeout_s)
        return client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
