"""The document store on DynamoDB: one item collection per video (layout in
:mod:`videosense_shared.store.keys`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from videosense_shared.store.headers import HeaderRepository
from videosense_shared.store.ledger import StageLedger
from videosense_shared.store.outbox import CompletionOutbox
from videosense_shared.store.reader import DocumentReader
from videosense_shared.store.results import ResultWriter
from videosense_shared.store.table import DynamoTable

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

    from videosense_shared.store.protocol import DocumentStore


class DynamoDocumentStore(
    HeaderRepository, StageLedger, CompletionOutbox, ResultWriter, DocumentReader
):
    """:class:`~videosense_shared.store.DocumentStore` on a DynamoDB table; the client is
    injected.

    Every write is either idempotent (same key, same content) or guarded by a condition
    expression, so duplicates and any delivery order are harmless.
    """

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._table = DynamoTable(dynamodb, table)


if TYPE_CHECKING:

    def _implements(store: DynamoDocumentStore) -> DocumentStore:
        return store  # mypy checks that the class satisfies the protocol
