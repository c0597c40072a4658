"""Signing plain HTTP requests with AWS Signature Version 4, for the AWS APIs that botocore has
no client for (the OpenSearch REST API of a domain or a Serverless collection).

:class:`SigV4Auth` is an ``httpx`` authentication flow: it signs every request with botocore's
own signer and the process's current credentials (refreshed as botocore refreshes them). Clients
that use it are created in :mod:`videosense_shared.aws`, the one place clients are created.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable

import httpx
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

CredentialsSource = Callable[[], Awaitable[ReadOnlyCredentials]]
"""Returns the credentials to sign with now (frozen: they do not change mid-signature)."""

# Headers the signature covers besides those botocore adds itself.
_SIGNED = ("host", "content-type", "x-amz-content-sha256")


class SigV4Auth(httpx.Auth):
    """Sign requests for ``service`` (``es`` for a domain, ``aoss`` for Serverless) in ``region``.

    Raises:
        botocore.exceptions.NoCredentialsError: from a request, when there are no credentials.
    """

    def __init__(self, credentials: CredentialsSource, service: str, region: str) -> None:
        self._credentials = credentials
        self._service = service
        self._region = region

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Add the signature headers to ``request``."""
        body = await request.aread()
        # OpenSearch Serverless requires the payload hash as a header; a domain accepts it.
        request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        signable = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=body,
            headers={k: v for k, v in request.headers.items() if k.lower() in _SIGNED},
        )
        credentials = await self._credentials()
        BotocoreSigV4Auth(credentials, self._service, self._region).add_auth(signable)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = signable.headers.get(name)
            if value is not None:
                request.headers[name] = value
        yield request
