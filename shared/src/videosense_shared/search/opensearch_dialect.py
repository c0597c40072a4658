"""What each kind of OpenSearch endpoint accepts: the one place the backend decides which form of
a request it sends (``docs/architecture.md``, "The search index", has the sources).

- **domain** (requests signed for ``es``): the whole REST API: ``_delete_by_query`` with
  ``refresh``, client-chosen document ids, ``_doc``/``_mget`` reads, ``knn_vector`` fields (Lucene).
- **search collection** (``aoss``, collection type ``SEARCH``): client-chosen ids, ``_doc`` and
  ``_mget`` reads, but no ``_delete_by_query`` and no ``refresh`` parameter (a collection answers
  ``status_exception`` "true refresh policy is not supported."), and no k-NN: a ``knn_vector``
  mapping is refused (``mapper_parsing_exception`` "No handler for type [knn_vector] ..."), so
  its entries carry no vectors and natural-language queries are refused with the reason.
- **vector search collection** (``aoss``, ``VECTORSEARCH``): ``knn_vector`` on Faiss, but the
  collection picks every document id (an ``_id`` in a ``_bulk`` action is refused), so a video's
  documents are found by a search on its ``video_id`` and deleted by the ids found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DOMAIN",
    "SEARCH_COLLECTION",
    "VECTOR_COLLECTION",
    "CollectionType",
    "OpenSearchDialect",
    "dialect_for",
]

#: ``VIDEOSENSE_SEARCH_OPENSEARCH_COLLECTION_TYPE``: the Serverless collection type, lower case.
CollectionType = Literal["search", "vectorsearch"]


@dataclass(frozen=True)
class OpenSearchDialect:
    """The API subset of one kind of endpoint, as the backend uses it."""

    name: str
    #: ``_delete_by_query`` (and its ``refresh``) exists: a video's entries go in one request.
    delete_by_query: bool
    #: Documents take the ids the client gives them (``_bulk`` ``_id``, ``_doc/<id>``, ``_mget``).
    client_ids: bool
    #: The ``knn_vector`` method of the entries' vectors; ``None``: no k-NN, no vectors stored.
    vector_method: dict[str, Any] | None

    @property
    def serverless(self) -> bool:
        """A Serverless collection: no ``_delete_by_query``, its refresh is periodic."""
        return not self.delete_by_query

    @property
    def vectors(self) -> bool:
        """Entries carry vectors and natural-language queries run a ``knn`` query."""
        return self.vector_method is not None


DOMAIN = OpenSearchDialect(
    name="domain",
    delete_by_query=True,
    client_ids=True,
    vector_method={"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
)
SEARCH_COLLECTION = OpenSearchDialect(
    name="search collection",
    delete_by_query=False,
    client_ids=True,
    vector_method=None,
)
VECTOR_COLLECTION = OpenSearchDialect(
    name="vector search collection",
    delete_by_query=False,
    client_ids=False,
    # Faiss is what its vector fields run on; the inner product of the model's L2-normalised
    # vectors is their cosine.
    vector_method={"name": "hnsw", "engine": "faiss", "space_type": "innerproduct"},
)


def dialect_for(
    service: str, collection_type: CollectionType = "vectorsearch"
) -> OpenSearchDialect:
    """The dialect of an endpoint whose requests are signed for ``service`` (``es``: a domain,
    ``aoss``: a collection of ``collection_type``).

    Raises:
        ValueError: an unknown signing service or collection type.
    """
    if service == "es":
        return DOMAIN
    if service != "aoss":
        raise ValueError(f"OpenSearch signing service {service!r}: es or aoss")
    if collection_type == "search":
        return SEARCH_COLLECTION
    if collection_type == "vectorsearch":
        return VECTOR_COLLECTION
    raise ValueError(f"collection type {collection_type!r}: search or vectorsearch")
