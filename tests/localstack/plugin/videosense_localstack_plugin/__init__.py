"""A LocalStack service provider that serves DynamoDB from moto.

LocalStack's own DynamoDB provider forwards to DynamoDB Local, a Java program it downloads on
first use; this one answers every operation from the moto backend LocalStack already bundles
(the same engine the moto tier runs), so the rest of LocalStack (its S3, SQS, SNS and STS, its
gateway and request parsing) is what the tests exercise. Selected with
``PROVIDER_OVERRIDE_DYNAMODB=moto``; registered through this package's entry point in the
``localstack.aws.provider`` namespace.

This module runs inside the LocalStack virtualenv only (Python >= 3.12, LocalStack installed).
"""

from __future__ import annotations

from typing import Any

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


@aws_provider(api="dynamodb", name="moto")  # type: ignore[untyped-decorator]
def dynamodb_moto() -> Any:
    """The ``dynamodb:moto`` service plugin."""
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(
        MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )
