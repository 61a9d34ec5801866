"""MongoDB shape of the quotes (collection ``quotes``, each with its own outbox) and the quote
number counter (collection ``counters``), and the quote's events as CloudEvents.

``pipeline.quote.created`` tells the customers service to put a ``QUOTE`` entry into the
customer's timeline; ``pipeline.quote.status_changed`` follows its answer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.events import CloudEvent, new_event
from crm_common.outbox import (
    OUTBOX,
    OUTBOX_PENDING,
    PENDING_INDEX,
    WITHOUT_OUTBOX,
    OutboxListener,
    with_outbox_append,
)
from pipeline.adapters.catalogue import (
    line_item_from_doc,
    line_item_to_doc,
    money_document,
    money_of_document,
)
from pipeline.adapters.outbox import json_value
from pipeline.domain.quotes import Quote, QuoteStatus
from pipeline.service_layer.ports import Actor

QUOTES = "quotes"
COUNTERS = "counters"
SOURCE = "crm/pipeline"
QUOTE_CREATED = "pipeline.quote.created"
QUOTE_STATUS_CHANGED = "pipeline.quote.status_changed"

Document = dict[str, Any]


def quote_to_doc(quote: Quote) -> Document:
    return {
        "_id": quote.id,
        "number": quote.number,
        "opportunity_id": quote.opportunity_id,
        "opportunity_title": quote.opportunity_title,
        "customer_id": quote.customer_id,
        "owner_id": quote.owner_id,
        "team": quote.team,
        "items": [line_item_to_doc(line) for line in quote.items],
        "total": money_document(quote.total),
        "valid_until": quote.valid_until.isoformat(),
        "status": quote.status.value,
        "version": quote.version,
        "created_by": quote.created_by,
        "created_at": quote.created_at,
        "updated_at": quote.updated_at,
    }


def quote_from_doc(doc: Document) -> Quote:
    return Quote(
        id=doc["_id"],
        number=doc["number"],
        opportunity_id=doc["opportunity_id"],
        opportunity_title=doc["opportunity_title"],
        customer_id=doc["customer_id"],
        owner_id=doc["owner_id"],
        team=doc.get("team"),
        items=[line_item_from_doc(line) for line in doc["items"]],
        total=money_of_document(doc["total"]),
        valid_until=date.fromisoformat(doc["valid_until"]),
        status=QuoteStatus(doc["status"]),
        version=doc["version"],
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def quote_event(quote: Quote, actor: Actor, *, created: bool) -> CloudEvent:
    return new_event(
        source=SOURCE,
        type=QUOTE_CREATED if created else QUOTE_STATUS_CHANGED,
        subject=quote.id,
        sequence=quote.version,
        data={
            "quoteId": quote.id,
            "number": quote.number,
            "opportunityId": quote.opportunity_id,
            "opportunityTitle": quote.opportunity_title,
            "customerId": quote.customer_id,
            "ownerId": quote.owner_id,
            "team": quote.team,
            "status": quote.status.value,
            "total": json_value(quote.total),
            "validUntil": quote.valid_until.isoformat(),
            "items": json_value(quote.items),
            "changedAt": quote.updated_at.isoformat(),
        },
        actor_id=actor.user_id,
        actor_name=actor.name,
        traceparent=actor.traceparent,
        at=quote.updated_at,
    )


async def create_quote_indexes(db: AsyncDatabase[Document]) -> None:
    quotes = db[QUOTES]
    await quotes.create_indexes([PENDING_INDEX])
    await quotes.create_index([("number", ASCENDING)], name="number", unique=True)
    await quotes.create_index(
        [("opportunity_id", ASCENDING), ("created_at", ASCENDING)], name="deal"
    )


class MongoQuoteRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._quotes: AsyncCollection[Document] = db[QUOTES]
        self._counters: AsyncCollection[Document] = db[COUNTERS]
        self._listener: OutboxListener | None = None

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._quotes

    def listen(self, listener: OutboxListener | None) -> None:
        self._listener = listener

    async def next_number(self, year: int) -> int:
        """The next quote sequence number of the year (atomic, never repeated)."""
        found = await self._counters.find_one_and_update(
            {"_id": f"quote:{year}"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert found is not None
        return int(found["value"])

    async def add(self, quote: Quote, *, by: Actor) -> None:
        """Insert the quote with its ``created`` event pending in its outbox (one write)."""
        entries = [quote_event(quote, by, created=True).model_dump(exclude_none=True)]
        await self._quotes.insert_one(
            {**quote_to_doc(quote), OUTBOX: entries, OUTBOX_PENDING: True}
        )
        if self._listener is not None:
            self._listener.submit(quote.id, entries)

    async def get(self, quote_id: str) -> Quote | None:
        doc = await self._quotes.find_one({"_id": quote_id}, WITHOUT_OUTBOX)
        return quote_from_doc(doc) if doc else None

    async def save(self, quote: Quote, loaded_version: int, *, by: Actor) -> bool:
        """Write the quote and its ``status_changed`` event if its version is still
        ``loaded_version``."""
        doc = quote_to_doc(quote)
        del doc["_id"]
        update: Document = {"$set": doc}
        entries = [quote_event(quote, by, created=False).model_dump(exclude_none=True)]
        with_outbox_append(update, entries)
        result = await self._quotes.update_one({"_id": quote.id, "version": loaded_version}, update)
        if result.matched_count == 1 and self._listener is not None:
            self._listener.submit(quote.id, entries)
        return result.matched_count == 1

    async def of_opportunities(self, opportunity_ids: list[str]) -> dict[str, list[Quote]]:
        found: dict[str, list[Quote]] = {oid: [] for oid in opportunity_ids}
        cursor = self._quotes.find(
            {"opportunity_id": {"$in": list(set(opportunity_ids))}},
            WITHOUT_OUTBOX,
            sort=[("created_at", ASCENDING)],
        )
        async for doc in cursor:
            found.setdefault(doc["opportunity_id"], []).append(quote_from_doc(doc))
        return found
