"""The customer archive in MongoDB: collection ``customers``, ``_id`` = the customer id.

Documents carry fields beyond the aggregate: ``name_search`` (the case-folded name, for
fragment search without ``$text``), and the outbox: ``outbox`` (CloudEvents not yet published,
oldest first) and ``outbox_pending`` (true while the outbox may hold events; sparse-indexed).
A change and its events are ONE write of one document, hence atomic without transactions;
after it, the pending events are handed to the relay (see ``outbox``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.outbox import OutboxListener
from customers.adapters.outbox import outbox_entry
from customers.domain.model import Customer, CustomerKind, LeadSource, LifecycleStage
from customers.service_layer.ports import CustomerQuery, Page

COLLECTION = "customers"

# Reads never need the outbox; the relay reads it on its own.
_PROJECTION = {"outbox": 0, "outbox_pending": 0}


def customers_collection(
    database: AsyncDatabase[dict[str, Any]],
) -> AsyncCollection[dict[str, Any]]:
    return database[COLLECTION]


async def create_indexes(collection: AsyncCollection[dict[str, Any]]) -> None:
    await collection.create_index(
        [("outbox_pending", ASCENDING)], name="outbox_pending", sparse=True
    )
    await collection.create_index([("owner_id", ASCENDING), ("_id", ASCENDING)], name="owner")
    await collection.create_index([("lifecycle", ASCENDING), ("_id", ASCENDING)], name="lifecycle")
    await collection.create_index([("company_id", ASCENDING)], name="company", sparse=True)
    await collection.create_index([("email", ASCENDING)], name="email", sparse=True)
    await collection.create_index([("tags", ASCENDING)], name="tags")


def search_key(name: str) -> str:
    return name.casefold()


def to_document(customer: Customer) -> dict[str, Any]:
    source = customer.source
    return {
        "_id": customer.id,
        "kind": customer.kind.value,
        "name": customer.name,
        "name_search": search_key(customer.name),
        "email": customer.email,
        "phone": customer.phone,
        "company_id": customer.company_id,
        "source": None
        if source is None
        else {
            "channel": source.channel,
            "campaign": source.campaign,
            "medium": source.medium,
            "referrer": source.referrer,
        },
        "lifecycle": customer.lifecycle.value,
        "owner_id": customer.owner_id,
        "tags": list(customer.tags),
        "attributes": customer.attributes,
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


def from_document(document: dict[str, Any]) -> Customer:
    source = document.get("source")
    return Customer(
        id=document["_id"],
        kind=CustomerKind(document["kind"]),
        name=document["name"],
        email=document.get("email"),
        phone=document.get("phone"),
        company_id=document.get("company_id"),
        source=None
        if not source
        else LeadSource(
            channel=source.get("channel"),
            campaign=source.get("campaign"),
            medium=source.get("medium"),
            referrer=source.get("referrer"),
        ),
        lifecycle=LifecycleStage(document["lifecycle"]),
        owner_id=document["owner_id"],
        tags=list(document.get("tags") or []),
        attributes=document.get("attributes"),
        version=document["version"],
        created_at=document["created_at"],
        updated_at=document["updated_at"],
    )


def to_filter(query: CustomerQuery) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    if query.lifecycles:
        conditions["lifecycle"] = {"$in": [stage.value for stage in query.lifecycles]}
    if query.owner_id is not None:
        conditions["owner_id"] = query.owner_id
    if query.kind is not None:
        conditions["kind"] = query.kind.value
    if query.tag is not None:
        conditions["tags"] = query.tag
    if query.name_contains:
        conditions["name_search"] = {"$regex": re.escape(search_key(query.name_contains))}
    return conditions


class MongoCustomerRepository:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        outbox_listener: OutboxListener | None = None,
    ) -> None:
        self.collection = collection
        self._listener = outbox_listener

    async def add(self, customer: Customer) -> None:
        document = to_document(customer)
        entries = [outbox_entry(event) for event in customer.events]
        document["outbox"] = entries
        if entries:
            document["outbox_pending"] = True
        await self.collection.insert_one(document)
        customer.events.clear()
        if self._listener is not None:
            self._listener.submit(customer.id, entries)

    async def get(self, customer_id: str) -> Customer | None:
        document = await self.collection.find_one({"_id": customer_id}, _PROJECTION)
        return None if document is None else from_document(document)

    async def get_many(self, customer_ids: Sequence[str]) -> list[Customer]:
        if not customer_ids:
            return []
        cursor = self.collection.find({"_id": {"$in": list(customer_ids)}}, _PROJECTION)
        return [from_document(document) async for document in cursor]

    async def contacts_of(self, company_ids: Sequence[str]) -> list[Customer]:
        if not company_ids:
            return []
        cursor = self.collection.find({"company_id": {"$in": list(company_ids)}}, _PROJECTION)
        return [from_document(document) async for document in cursor]

    async def page(self, query: CustomerQuery, first: int, after_id: str | None) -> Page:
        conditions = to_filter(query)
        if after_id is not None:
            conditions["_id"] = {"$gt": after_id}
        cursor = (
            self.collection.find(conditions, _PROJECTION).sort("_id", ASCENDING).limit(first + 1)
        )
        documents = await cursor.to_list(None)
        return Page(
            items=[from_document(document) for document in documents[:first]],
            has_next=len(documents) > first,
        )

    async def count(self, query: CustomerQuery) -> int:
        return await self.collection.count_documents(to_filter(query))
