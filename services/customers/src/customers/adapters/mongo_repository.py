"""The customer repository in MongoDB: a change and its outbox events in one document write."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_common.errors import Conflict
from crm_common.outbox import OUTBOX, OUTBOX_PENDING, OutboxListener, with_outbox_append
from customers.adapters import audit_log
from customers.adapters.audit_log import AUDIT_OUTBOX, AUDIT_PENDING, AuditMover
from customers.adapters.customer_documents import (
    _PROJECTION,
    _SORT_KEYS,
    Collection,
    from_document,
    to_document,
    visibility_keys,
)
from customers.adapters.customer_filters import flatten, narrowed, to_filter
from customers.adapters.customer_search import (
    MIN_SAMPLES,
    SAMPLE_TTL_SECONDS,
    Sample,
    range_clause,
    read_sample,
    window_ends,
)
from customers.adapters.external_ids import (
    duplicate_external_id,
    is_duplicate_external_id,
)
from customers.adapters.faults import AFTER_CUSTOMER_WRITE, crash_point
from customers.adapters.mongo_collections import MERGED
from customers.adapters.outbox import outbox_entry
from customers.domain.model import (
    AuditEntry,
    Customer,
    FieldChange,
)
from customers.domain.search_terms import SEARCH_VERSION
from customers.domain.values import words
from customers.service_layer.ports import (
    CustomerQuery,
    Page,
    Sort,
)


def _outbox_update(customer: Customer, entries: list[dict[str, Any]]) -> dict[str, Any]:
    document = to_document(customer)
    del document["_id"]
    update: dict[str, Any] = {"$set": document}
    with_outbox_append(update, entries)
    # The audit entries travel in the same write as the change (adapters/audit_log.py).
    audit = audit_log.push_update(customer.audit)
    if audit:
        document.update(audit["$set"])
        update["$push"] = {**update.get("$push", {}), **audit["$push"]}
    return update


def _transfer_update(
    customer: Customer, to_owner: str, now: datetime, audit: AuditEntry
) -> dict[str, Any]:
    pending = audit_log.push_update([audit])
    return {
        "$set": {
            "owner_id": to_owner,
            "visibility": visibility_keys(to_owner, customer.team),
            "updated_at": now,
            "sort_updated": f"{now.astimezone(UTC).isoformat()}\x00{customer.id}",
            **pending["$set"],
        },
        "$inc": {"version": 1},
        "$push": pending["$push"],
    }


class MongoCustomerRepository:
    def __init__(
        self,
        collection: Collection,
        outbox_listener: OutboxListener | None = None,
        audit: AuditMover | None = None,
        wake_relay: Any = None,
    ) -> None:
        self.collection = collection
        self._listener = outbox_listener
        self._audit = audit
        self._wake = wake_relay
        self._merged = collection.database[MERGED]
        self._sample: Sample | None = None

    async def _after_write(self, customer: Customer, entries: list[dict[str, Any]]) -> None:
        # Everything below only speeds up what the relay's and the audit mover's sweeps
        # would do anyway: a crash here delays the events and the audit entries, never loses.
        crash_point(AFTER_CUSTOMER_WRITE)
        customer.events.clear()
        audit = [audit_log.audit_document(entry) for entry in customer.audit]
        customer.audit.clear()
        if self._listener is not None and entries:
            self._listener.submit(customer.id, entries)
        if self._audit is not None and audit:
            await self._audit.move({customer.id: audit})

    async def _audit_first(self, customers: Sequence[Customer]) -> list[AuditEntry]:
        """A new customer's entries go in before it (adapters/audit_log.py); without a mover,
        in its document."""
        entries = [entry for customer in customers for entry in customer.audit]
        if self._audit is not None:
            await self._audit.insert_first(entries)
            for customer in customers:
                customer.audit.clear()
        return entries

    async def add(self, customer: Customer) -> None:
        document = to_document(customer)
        entries = [outbox_entry(event) for event in customer.events]
        document[OUTBOX] = entries
        if entries:
            document[OUTBOX_PENDING] = True
        audit = await self._audit_first([customer])
        document.update(audit_log.pending_fields(customer.audit))
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError as exc:
            if self._audit is not None:
                await self._audit.forget(audit)
            if is_duplicate_external_id(exc.details):
                raise duplicate_external_id(customer.external_id) from exc
            raise
        await self._after_write(customer, entries)

    async def add_many(self, customers: Sequence[Customer]) -> list[Customer]:
        if not customers:
            return []
        audit = await self._audit_first(customers)
        documents = []
        for customer in customers:
            document = to_document(customer)
            document[OUTBOX] = [outbox_entry(event) for event in customer.events]
            document[OUTBOX_PENDING] = True
            document.update(audit_log.pending_fields(customer.audit))
            documents.append(document)
            customer.events.clear()
            customer.audit.clear()
        rejected: set[int] = set()
        try:
            await self.collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not all(is_duplicate_external_id(error) for error in errors):
                raise
            # Another writer stored these external ids first: the caller decides (an import
            # updates the stored customer instead); every other document was inserted.
            rejected = {error["index"] for error in errors}
        crash_point(AFTER_CUSTOMER_WRITE)
        if self._audit is not None and rejected:
            refused = {documents[n]["_id"] for n in rejected}
            await self._audit.forget([e for e in audit if e.customer_id in refused])
        if self._wake is not None:
            self._wake()
        return [customers[n] for n in sorted(rejected)]

    async def save(
        self,
        customer: Customer,
        expected_version: int,
        carried_outbox: Sequence[dict[str, Any]] = (),
    ) -> None:
        entries = [*carried_outbox, *(outbox_entry(event) for event in customer.events)]
        try:
            result = await self.collection.update_one(
                {"_id": customer.id, "version": expected_version},
                _outbox_update(customer, entries),
            )
        except DuplicateKeyError as exc:
            if is_duplicate_external_id(exc.details):
                raise duplicate_external_id(customer.external_id) from exc
            raise
        if result.matched_count == 0:
            raise Conflict(
                f"customer {customer.id} changed meanwhile (expected version {expected_version})",
                field="expectedVersion",
            )
        await self._after_write(customer, entries)

    async def get(self, customer_id: str) -> Customer | None:
        document = await self.collection.find_one({"_id": customer_id}, _PROJECTION)
        return None if document is None else from_document(document)

    async def get_many(self, customer_ids: Sequence[str]) -> list[Customer]:
        if not customer_ids:
            return []
        cursor = self.collection.find({"_id": {"$in": list(customer_ids)}}, _PROJECTION)
        return [from_document(document) async for document in cursor]

    async def resolve_many(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        if not customer_ids:
            return {}
        ids = list(customer_ids)
        # One round trip: the whole answer in the first batch (no getMore).
        cursor = self.collection.find(
            {"ids": {"$in": ids}}, _PROJECTION, batch_size=max(len(ids) + 1, 101)
        )
        found: dict[str, Customer] = {}
        survivors: dict[str, Customer] = {}
        async for document in cursor:
            customer = from_document(document)
            found[customer.id] = customer
            for merged_id in customer.merged_ids:
                survivors[merged_id] = customer
        # A merged id resolves to its survivor even while its old document still exists
        # (between the steps of a merge).
        resolved = {**found, **survivors}
        return {i: resolved[i] for i in ids if i in resolved}

    async def contacts_of(self, company_ids: Sequence[str]) -> list[Customer]:
        if not company_ids:
            return []
        cursor = self.collection.find({"company_id": {"$in": list(company_ids)}}, _PROJECTION)
        return [from_document(document) async for document in cursor]

    async def page(
        self, query: CustomerQuery, sort: Sort, first: int, after: tuple[Any, str] | None
    ) -> Page:
        key = _SORT_KEYS[sort.field]
        sample = await self.sample()
        conditions = to_filter(query, sample.grams)
        bound = None
        if after is not None:
            value, after_id = after
            bound = after_id if key == "sort_id" else f"{value}\x00{after_id}"
        wanted = first + 1
        windowed = sample.size >= MIN_SAMPLES and not narrowed(query, conditions)
        ends = window_ends(sample.keys[key], bound, sort.descending) if windowed else []
        # Windows between sampled keys, nearest first, each twice as many as the last, then
        # an open end: the stand-in reads a whole range before it applies the limit, so an
        # open range from the first page on would read the archive. A narrowed filter (or a
        # small archive) is one query: its indexed clause leads, the key range is checked.
        documents: list[dict[str, Any]] = []
        start, inclusive, taken, span = bound, False, 0, 1
        while True:
            end = ends[taken + span - 1] if taken + span <= len(ends) else None
            window = range_clause(key, start, inclusive, end, sort.descending)
            where = conditions
            if window:
                where = flatten([window, conditions] if windowed else [conditions, window])
            cursor = self.collection.find(where, _PROJECTION)
            cursor = cursor.sort(key, DESCENDING if sort.descending else ASCENDING)
            documents += await cursor.limit(wanted - len(documents)).to_list(None)
            if len(documents) >= wanted or end is None:
                break
            start, inclusive, taken, span = end, True, taken + span, span * 2
        return Page(
            items=[from_document(document) for document in documents[:first]],
            has_next=len(documents) > first,
        )

    async def count(self, query: CustomerQuery) -> int:
        conditions = to_filter(query, (await self.sample()).grams)
        if not conditions:  # everything: the collection's count, not a scan
            return await self.collection.estimated_document_count()
        return await self.collection.count_documents(conditions)

    async def sample(self) -> Sample:
        """The sampled documents' sort keys and grams (see adapters/customer_search.py),
        re-read now and then: a stale sample costs speed, never results."""
        now = time.monotonic()
        if self._sample is None or now - self._sample.read_at > SAMPLE_TTL_SECONDS:
            self._sample = await read_sample(self.collection)
        return self._sample

    async def iterate(self, query: CustomerQuery) -> AsyncIterator[Customer]:
        cursor = self.collection.find(to_filter(query), _PROJECTION, batch_size=500).sort(
            "_id", ASCENDING
        )
        async for document in cursor:
            yield from_document(document)

    async def duplicates_of(self, customer: Customer, limit: int) -> list[Customer]:
        alternatives: list[dict[str, Any]] = []
        if customer.emails:
            alternatives.append({"emails": {"$in": customer.emails}})
        if customer.phones:
            alternatives.append({"phones": {"$in": customer.phones}})
        if customer.company_id is not None:
            alternatives.append({"company_id": customer.company_id})
        first_words = words(customer.name)
        if first_words:
            alternatives.append(
                {
                    "search_tokens": {"$in": first_words},
                    "kind": customer.kind.value,
                    "company_id": customer.company_id,
                }
            )
        return await self._any_of(alternatives, limit, exclude=customer.id)

    async def _any_of(
        self, alternatives: list[dict[str, Any]], limit: int = 0, exclude: str | None = None
    ) -> list[Customer]:
        """One indexed query per alternative (instead of $or), de-duplicated. ``exclude`` is
        dropped here, not with ``_id: {$ne: ...}`` in the filter: the stand-in scans the
        collection for that; one more document is asked for instead."""
        found: dict[str, Customer] = {}
        extra = 1 if exclude is not None and limit else 0
        for conditions in alternatives:
            cursor = self.collection.find(conditions, _PROJECTION, limit=limit + extra)
            kept = 0
            async for document in cursor:
                if document["_id"] == exclude or (limit and kept == limit):
                    continue
                kept += 1
                found.setdefault(document["_id"], from_document(document))
        return list(found.values())

    async def find_for_import(
        self, ids: Sequence[str], external_ids: Sequence[str], emails: Sequence[str]
    ) -> list[Customer]:
        alternatives: list[dict[str, Any]] = []
        if ids:
            alternatives.append({"_id": {"$in": list(ids)}})
        if external_ids:
            alternatives.append({"external_id": {"$in": list(external_ids)}})
        if emails:
            alternatives.append({"emails": {"$in": list(emails)}})
        return await self._any_of(alternatives)

    async def owned_by(self, owner_id: str, team: str | None) -> list[str]:
        conditions: dict[str, Any] = {"owner_id": owner_id}
        if team is not None:
            conditions["team"] = team
        cursor = self.collection.find(conditions, {"_id": 1}).sort("_id", ASCENDING)
        return [document["_id"] async for document in cursor]

    async def transfer(
        self,
        customer_ids: Sequence[str],
        from_owner: str,
        to_owner: str,
        now: datetime,
        actor_id: str | None = None,
        actor_name: str | None = None,
        note: str | None = None,
    ) -> list[Customer]:
        if not customer_ids:
            return []
        conditions = {"_id": {"$in": list(customer_ids)}, "owner_id": from_owner}
        before = [
            from_document(document)
            async for document in self.collection.find(conditions, _PROJECTION)
        ]
        if not before:
            return []
        operations = [
            UpdateOne(
                {"_id": customer.id, "owner_id": from_owner, "version": customer.version},
                _transfer_update(customer, to_owner, now, audit),
            )
            for customer in before
            # Who moved it travels in the same write (adapters/audit_log.py).
            for audit in [
                AuditEntry(
                    customer_id=customer.id,
                    version=customer.version + 1,
                    action="TRANSFER",
                    changes=(FieldChange("ownerId", from_owner, to_owner),),
                    at=now,
                    actor_id=actor_id,
                    actor_name=actor_name,
                    note=note,
                )
            ]
        ]
        await self.collection.bulk_write(operations, ordered=False)
        if self._audit is not None:
            await self._audit.move_for([customer.id for customer in before])
        return before

    async def retire_merged(
        self, sources: Sequence[Customer], survivor_id: str, now: datetime
    ) -> int:
        ids = [source.id for source in sources]
        if self._audit is not None:  # their pending audit entries must outlive the documents
            await self._audit.move_for(ids)
        moved = await self.collection.update_many(
            {"company_id": {"$in": ids}}, {"$set": {"company_id": survivor_id, "updated_at": now}}
        )
        async for document in self.collection.find({"_id": {"$in": ids}}):
            document.pop(OUTBOX, None)
            document.pop(OUTBOX_PENDING, None)
            document.pop(AUDIT_OUTBOX, None)
            document.pop(AUDIT_PENDING, None)
            document["merged_into"] = survivor_id
            document["merged_at"] = now
            await self._merged.replace_one({"_id": document["_id"]}, document, upsert=True)
        await self.collection.delete_many({"_id": {"$in": ids}})
        return moved.modified_count

    async def backfill_search_fields(self) -> int:
        """Documents written before the current search fields (``search_version`` missing
        or older) get them, at start. Idempotent: a second run finds none. Found through the
        ``search_version`` index (a missing field is indexed as null), so a run with nothing
        to do is no scan. The write is guarded by the version read: a document changed
        meanwhile was rewritten whole, search fields included, and is left alone."""
        done = 0
        stale = {"search_version": {"$in": [None, *range(1, SEARCH_VERSION)]}}
        async for document in self.collection.find(stale, _PROJECTION):
            fresh = to_document(from_document(document))
            del fresh["_id"]
            result = await self.collection.update_one(
                {"_id": document["_id"], "version": document["version"]}, {"$set": fresh}
            )
            done += result.modified_count
        return done

    async def pending_outbox(self, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        cursor = self.collection.find(
            {"_id": {"$in": list(customer_ids)}, OUTBOX_PENDING: True}, {OUTBOX: 1}
        )
        async for document in cursor:
            entries += document.get(OUTBOX) or []
        return entries
