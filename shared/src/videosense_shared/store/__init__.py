"""The video document store: one item collection per video (docs/architecture.md, "The video
document").

- :mod:`~videosense_shared.store.protocol`: :class:`DocumentStore`, what services use, with
  :class:`Header` and :class:`DocumentNotFoundError`;
- :mod:`~videosense_shared.store.dynamo`: :class:`DynamoDocumentStore`, on DynamoDB, built from
  the header repository (:mod:`.headers`), the stage ledger (:mod:`.ledger`), the completion
  outbox (:mod:`.outbox`), the result items (:mod:`.results`) and the reader (:mod:`.reader`),
  over the item layout of :mod:`.keys` and the attribute codecs of :mod:`.codec`;
- :mod:`~videosense_shared.store.memory`: :class:`InMemoryDocumentStore`, the same semantics in
  memory.
"""

from videosense_shared.store.dynamo import DynamoDocumentStore
from videosense_shared.store.memory import InMemoryDocumentStore
from videosense_shared.store.protocol import DocumentNotFoundError, DocumentStore, Header

__all__ = [
    "DocumentNotFoundError",
    "DocumentStore",
    "DynamoDocumentStore",
    "Header",
    "InMemoryDocumentStore",
]
