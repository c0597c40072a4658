"""A LocalStack service provider that serves DynamoDB from moto.

LocalStack's own DynamoDB provider forwards to DynamoDB Local, a Java program it downloads on
first use; this one answers every operation from the moto backend LocalStack already bundles
(the same engine the moto tier runs), so the rest of LocalStack (its S3, SQS, SNS and STS, its
gateway and request parsing) is what the tests exercise. Selected with
``PROVIDER_OVERRIDE_DYNAMODB=moto``; registered through this package's entry point in the
``localstack.aws.provider`` namespace.

moto's DynamoDB is not safe for concurrent requests (a cancelled ``TransactWriteItems`` puts back
a copy of the table taken before it, losing other requests' writes; a conditional write checks
and writes in two steps), and LocalStack answers requests on many threads. Every request this
provider hands to moto therefore takes one lock, as the embedded emulator does
(``videosense.moto_server``).

This module runs inside the LocalStack virtualenv only (Python >= 3.12, LocalStack installed).
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.aws.api import RequestContext, ServiceRequest, ServiceResponse
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider
from localstack.state import StateVisitor


# The project's type check runs without LocalStack installed: its classes are Any there.
class MotoDynamoDBProvider(DynamodbApi):  # type: ignore[misc]
    """Every DynamoDB operation raises ``NotImplementedError`` in the generated base class; the
    moto fallback dispatcher answers those from moto's DynamoDB backend."""

    def accept_state_visitor(self, visitor: StateVisitor) -> None:
        # Lets LocalStack's state reset and persistence reach moto's tables.
        from moto.dynamodb.models import dynamodb_backends

        visitor.visit(dynamodb_backends)


_ONE_AT_A_TIME = threading.Lock()


def _moto_one_at_a_time(context: RequestContext, request: ServiceRequest) -> ServiceResponse:
    """Answer one request from moto's DynamoDB, never two at once."""
    from localstack.services.moto import call_moto

    with _ONE_AT_A_TIME:
        return call_moto(context)


def _dispatch_table(provider: object) -> Any:
    from localstack.aws.forwarder import ForwardingFallbackDispatcher

    return ForwardingFallbackDispatcher(provider, _moto_one_at_a_time)


@aws_provider(api="dynamodb", name="moto")  # type: ignore[untyped-decorator]
def dynamodb_moto() -> Any:
    """The ``dynamodb:moto`` service plugin."""
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=_dispatch_table)
