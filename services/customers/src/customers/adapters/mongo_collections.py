"""The collections of the customer archive in MongoDB and their indexes.

Collections:

- ``customers`` (``_id`` = the customer id). Beyond the aggregate, a document carries search
  fields (``name_search``: the folded name; ``search_tokens``: folded words of the name, the
  e-mails and the phones, for indexed prefix search; ``phone_digits``; ``tags_search``), the
  ids merged into it (``merged_ids``, indexed: an old id resolves in the same query), and the
  outbox (``outbox``: CloudEvents not yet published; ``outbox_pending``: sparse-indexed flag).
  A change and its events are ONE write of one document, hence atomic without transactions.
- ``interactions``: the timeline, indexed by customer and time (newest first).
- ``audit``: one entry per customer version (``_id`` = ``<customer id>:<version>``).
- ``merged_customers``: the documents of merged customers as they were, for the record.
- ``transfers``: ownership transfers, with their own outbox (adapters/operations.py).
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.outbox import PENDING_INDEX
from customers.adapters.audit_log import AUDIT_PENDING
from customers.adapters.customer_documents import Collection
from customers.adapters.customer_search import (
    SAMPLE_FIELD,
)
from customers.adapters.external_ids import (
    create_external_id_index,
)

COLLECTION = "customers"
INTERACTIONS = "interactions"
AUDIT = "audit"
MERGED = "merged_customers"
TRANSFERS = "transfers"
TASKS = "tasks"


# Reads never need the outbox; the relay reads it on its own.
def customers_collection(database: AsyncDatabase[dict[str, Any]]) -> Collection:
    return database[COLLECTION]


async def create_indexes(database: AsyncDatabase[dict[str, Any]]) -> None:
    collection = database[COLLECTION]
    # No $or anywhere: SecantusDB (the stand-in) answers $or by scanning. Alternatives are
    # folded into arrays instead (``ids``: own id + merged ids; ``visibility``: owner + team).
    await collection.create_indexes([PENDING_INDEX])
    await collection.create_index([("ids", ASCENDING)], name="ids")
    await collection.create_index([("visibility", ASCENDING)], name="visibility")
    await collection.create_index([("company_id", ASCENDING)], name="company", sparse=True)
    await collection.create_index([("emails", ASCENDING)], name="emails")
    await collection.create_index([("phones", ASCENDING)], name="phones")
    await collection.create_index([("tags_search", ASCENDING)], name="tags")
    await collection.create_index([("search_tokens", ASCENDING)], name="search_tokens")
    await create_external_id_index(collection)
    # Audit entries not yet moved to the audit collection (see adapters/audit_log.py).
    await collection.create_index([(AUDIT_PENDING, ASCENDING)], name=AUDIT_PENDING, sparse=True)
    await collection.create_index([("sort_name", ASCENDING)], name="sort_name")
    await collection.create_index([("sort_created", ASCENDING)], name="sort_created")
    await collection.create_index([("sort_updated", ASCENDING)], name="sort_updated")
    await collection.create_index([("sort_id", ASCENDING)], name="sort_id")
    # Fragment search (see adapters/customer_search.py): one multikey array of trigrams.
    await collection.create_index([("search_grams", ASCENDING)], name="search_grams")
    await collection.create_index([(SAMPLE_FIELD, ASCENDING)], name=SAMPLE_FIELD, sparse=True)
    # Not sparse: a document without the field is indexed as null, so that the backfill
    # finds the old ones through the index instead of scanning.
    await collection.create_index([("search_version", ASCENDING)], name="search_version")
    interactions = database[INTERACTIONS]
    # Ascending keys, walked backwards for newest first: SecantusDB misses range bounds on
    # descending compound keys, and real MongoDB serves both directions from one index.
    await interactions.create_index(
        [("customer_id", ASCENDING), ("sort_key", ASCENDING)], name="customer_time"
    )
    # A deal's entries (Opportunity.interactions; the customer of a deal for its tasks).
    await interactions.create_index(
        [("opportunity_id", ASCENDING), ("sort_key", ASCENDING)], name="deal_time", sparse=True
    )
    await database[AUDIT].create_index(
        [("customer_id", ASCENDING), ("sort_key", ASCENDING)], name="customer_time"
    )
    await database[TRANSFERS].create_indexes([PENDING_INDEX])
