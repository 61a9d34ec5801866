"""The customer archive in MongoDB.

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

import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from crm_common.errors import Conflict
from crm_common.outbox import OutboxListener
from customers.adapters import audit_log
from customers.adapters.audit_log import AUDIT_OUTBOX, AUDIT_PENDING, AuditMover
from customers.adapters.customer_search import (
    MIN_SAMPLES,
    SAMPLE_FIELD,
    SAMPLE_TTL_SECONDS,
    Sample,
    first_per_field,
    fragment_conditions,
    range_clause,
    read_sample,
    search_fields,
    window_ends,
)
from customers.adapters.external_ids import (
    create_external_id_index,
    duplicate_external_id,
    is_duplicate_external_id,
)
from customers.adapters.faults import AFTER_CUSTOMER_WRITE, crash_point
from customers.adapters.outbox import outbox_entry
from customers.domain.interactions import Interaction
from customers.domain.model import (
    AuditEntry,
    Customer,
    CustomerKind,
    FieldChange,
    InteractionKind,
    LifecycleStage,
)
from customers.domain.search_terms import SEARCH_VERSION, search_tokens
from customers.domain.values import Address, LeadSource, fold, words
from customers.service_layer.ports import (
    CustomerQuery,
    Page,
    Scope,
    Sort,
    SortField,
    TimelinePage,
)

COLLECTION = "customers"
INTERACTIONS = "interactions"
AUDIT = "audit"
MERGED = "merged_customers"
TRANSFERS = "transfers"

# Reads never need the outbox; the relay reads it on its own.
_PROJECTION = {
    "outbox": 0,
    "outbox_pending": 0,
    AUDIT_OUTBOX: 0,
    AUDIT_PENDING: 0,
    "search_tokens": 0,
    "search_text": 0,
    "search_grams": 0,
}
# Sorted lists page on one string key each (value + NUL + id): a keyset is one range.
_SORT_KEYS = {
    SortField.ID: "sort_id",  # an indexed copy: a range on ``_id`` scans on the stand-in
    SortField.NAME: "sort_name",
    SortField.CREATED_AT: "sort_created",
    SortField.UPDATED_AT: "sort_updated",
}


def sort_key(customer: Customer, field: SortField) -> str:
    if field is SortField.NAME:
        value = fold(customer.name)
    elif field is SortField.CREATED_AT:
        value = customer.created_at.astimezone(UTC).isoformat()
    elif field is SortField.UPDATED_AT:
        value = customer.updated_at.astimezone(UTC).isoformat()
    else:
        return customer.id
    return f"{value}\x00{customer.id}"


def visibility_keys(owner_id: str, team: str | None) -> list[str]:
    return [f"owner:{owner_id}", *([f"team:{team}"] if team else [])]


Collection = AsyncCollection[dict[str, Any]]


def customers_collection(database: AsyncDatabase[dict[str, Any]]) -> Collection:
    return database[COLLECTION]


async def create_indexes(database: AsyncDatabase[dict[str, Any]]) -> None:
    collection = database[COLLECTION]
    # No $or anywhere: SecantusDB (the stand-in) answers $or by scanning. Alternatives are
    # folded into arrays instead (``ids``: own id + merged ids; ``visibility``: owner + team).
    await collection.create_index(
        [("outbox_pending", ASCENDING)], name="outbox_pending", sparse=True
    )
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
    await database[AUDIT].create_index(
        [("customer_id", ASCENDING), ("sort_key", ASCENDING)], name="customer_time"
    )
    await database[TRANSFERS].create_index(
        [("outbox_pending", ASCENDING)], name="outbox_pending", sparse=True
    )


def _source_document(source: LeadSource | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {
        "channel": source.channel,
        "campaign": source.campaign,
        "medium": source.medium,
        "referrer": source.referrer,
    }


def _address_document(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "street": address.street,
        "city": address.city,
        "postal_code": address.postal_code,
        "region": address.region,
        "country": address.country,
    }


def to_document(customer: Customer) -> dict[str, Any]:
    return {
        "_id": customer.id,
        "kind": customer.kind.value,
        "name": customer.name,
        "email": customer.email,
        "emails": list(customer.emails),
        "phone": customer.phone,
        "phones": list(customer.phones),
        "search_tokens": (tokens := search_tokens(customer)),
        "search_text": " " + " ".join(tokens),
        "company_id": customer.company_id,
        "source": _source_document(customer.source),
        "address": _address_document(customer.address),
        "lifecycle": customer.lifecycle.value,
        "lifecycle_reason": customer.lifecycle_reason,
        "lifecycle_changed_at": customer.lifecycle_changed_at,
        "lifecycle_cause": customer.lifecycle_cause,
        "owner_id": customer.owner_id,
        "team": customer.team,
        "tags": list(customer.tags),
        "tags_search": [fold(tag) for tag in customer.tags],
        "attributes": customer.attributes,
        "external_id": customer.external_id,
        "merged_ids": list(customer.merged_ids),
        "ids": [customer.id, *customer.merged_ids],
        "visibility": visibility_keys(customer.owner_id, customer.team),
        "sort_name": sort_key(customer, SortField.NAME),
        "sort_created": sort_key(customer, SortField.CREATED_AT),
        "sort_updated": sort_key(customer, SortField.UPDATED_AT),
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        # name_search, emails_search, phone_digits, search_grams, sort_id, ...
        **search_fields(customer),
    }


def from_document(document: dict[str, Any]) -> Customer:
    source = document.get("source")
    address = document.get("address")
    email = document.get("email")
    phone = document.get("phone")
    return Customer(
        id=document["_id"],
        kind=CustomerKind(document["kind"]),
        name=document["name"],
        email=email,
        phone=phone,
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
        emails=list(document.get("emails") or ([email] if email else [])),
        phones=list(document.get("phones") or ([phone] if phone else [])),
        address=None
        if not address
        else Address(
            street=address.get("street"),
            city=address.get("city"),
            postal_code=address.get("postal_code"),
            region=address.get("region"),
            country=address.get("country"),
        ),
        external_id=document.get("external_id"),
        team=document.get("team"),
        lifecycle_reason=document.get("lifecycle_reason"),
        lifecycle_changed_at=document.get("lifecycle_changed_at"),
        lifecycle_cause=document.get("lifecycle_cause"),
        merged_ids=list(document.get("merged_ids") or []),
    )


def scope_filter(scope: Scope | None) -> dict[str, Any]:
    if scope is None or scope.all:
        return {}
    if scope.nothing:
        return {"_id": {"$in": []}}
    keys: list[str] = []
    if scope.owner_id is not None:
        keys.append(f"owner:{scope.owner_id}")
    if scope.team is not None:
        keys.append(f"team:{scope.team}")
    if not keys:
        return {}
    return {"visibility": {"$in": keys}}


def prefix_conditions(prefixes: list[str]) -> list[dict[str, Any]]:
    """Documents with, for each prefix, a search token starting with it. The longest prefix
    is a range on the indexed ``search_tokens``; on an array a range may be met by two
    different elements, so a regular expression over ``search_text`` (the same tokens as one
    string) decides. (A ``^`` regex, ``$elemMatch``, ``$all`` or ``$and`` on the array is a
    scan on the stand-in.)"""
    if not prefixes:
        return []
    longest = max(prefixes, key=len)
    lookaheads = "".join(f"(?=.* {re.escape(prefix)})" for prefix in prefixes)
    return [
        {"search_tokens": {"$gte": longest, "$lt": longest[:-1] + chr(ord(longest[-1]) + 1)}},
        {"search_text": {"$regex": "^" + lookaheads}},
    ]


def to_filter(query: CustomerQuery, gram_counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The query as one flat filter, its most selective indexed clause first (the stand-in
    looks up the first clause that has an index and checks the others on its candidates).
    ``gram_counts``: how often each gram occurs in the sample, to pick the rarest."""
    leads, checks = fragment_conditions(
        query.name_contains, query.email_contains, query.phone_contains, gram_counts or {}
    )
    if query.search:
        prefix_range, *prefix_checks = prefix_conditions(sorted(set(words(query.search))))
        leads.append(prefix_range)
        checks += prefix_checks
    conditions = first_per_field(leads)
    if query.lifecycles:
        conditions.append({"lifecycle": {"$in": [stage.value for stage in query.lifecycles]}})
    if query.owner_id is not None:
        conditions.append({"visibility": f"owner:{query.owner_id}"})
    if query.kind is not None:
        conditions.append({"kind": query.kind.value})
    if query.tag is not None:
        conditions.append({"tags_search": fold(query.tag)})
    if query.company_id is not None:
        conditions.append({"company_id": query.company_id})
    if query.source_channel is not None:
        conditions.append({"source.channel": query.source_channel})
    if query.source_campaign is not None:
        conditions.append({"source.campaign": query.source_campaign})
    period: dict[str, Any] = {}
    if query.created_from is not None:
        period["$gte"] = query.created_from
    if query.created_to is not None:
        period["$lt"] = query.created_to
    if period:
        conditions.append({"created_at": period})
    scope = scope_filter(query.scope)
    if scope:
        conditions.append(scope)
    return flatten(conditions + checks)


def narrowed(query: CustomerQuery, conditions: Mapping[str, Any]) -> bool:
    """Whether the filter has a selective indexed clause (then its candidates are read
    whole and sorted); otherwise a list is read in windows of its sort key."""
    if not conditions.keys().isdisjoint({"search_grams", "search_tokens", "tags_search"}):
        return True
    if "$and" in conditions:  # a scan on the stand-in whatever the window: read it once
        return True
    if query.company_id is not None or query.owner_id is not None:
        return True
    scope = query.scope
    # A rep's own customers: fewer than any window would read. A manager's team is a
    # large share of the archive: windows.
    return scope is not None and (scope.nothing or (scope.owner_id is not None and not scope.team))


def flatten(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """One flat document where the fields differ (the stand-in plans ``$and`` badly); a
    second condition on a field already used goes into ``$and``. The first condition on a
    field is the one indexes see first, so the most selective come first."""
    flat: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for condition in conditions:
        if any(key in flat for key in condition):
            rest.append(condition)
        else:
            flat.update(condition)
    if rest:
        flat["$and"] = rest
    return flat


def _outbox_update(customer: Customer, entries: list[dict[str, Any]]) -> dict[str, Any]:
    document = to_document(customer)
    del document["_id"]
    update: dict[str, Any] = {"$set": document}
    if entries:
        document["outbox_pending"] = True
        update["$push"] = {"outbox": {"$each": entries}}
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
        document["outbox"] = entries
        if entries:
            document["outbox_pending"] = True
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
            document["outbox"] = [outbox_entry(event) for event in customer.events]
            document["outbox_pending"] = True
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
            document.pop("outbox", None)
            document.pop("outbox_pending", None)
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
            {"_id": {"$in": list(customer_ids)}, "outbox_pending": True}, {"outbox": 1}
        )
        async for document in cursor:
            entries += document.get("outbox") or []
        return entries


def interaction_document(interaction: Interaction) -> dict[str, Any]:
    return {
        "_id": interaction.id,
        "customer_id": interaction.customer_id,
        "kind": interaction.kind.value,
        "occurred_at": interaction.occurred_at,
        "recorded_at": interaction.recorded_at,
        "summary": interaction.summary,
        "details": interaction.details,
        "actor_id": interaction.actor_id,
        "actor_name": interaction.actor_name,
        "opportunity_id": interaction.opportunity_id,
        "merged_from": interaction.merged_from,
        "sort_key": interaction_key(interaction.occurred_at, interaction.id),
    }


def interaction_key(occurred_at: datetime, interaction_id: str) -> str:
    """Newest first = this key descending; a page boundary is one range on it."""
    return f"{occurred_at.astimezone(UTC).isoformat()}\x00{interaction_id}"


def interaction_from_document(document: dict[str, Any]) -> Interaction:
    return Interaction(
        id=document["_id"],
        customer_id=document["customer_id"],
        kind=InteractionKind(document["kind"]),
        occurred_at=document["occurred_at"],
        recorded_at=document["recorded_at"],
        summary=document["summary"],
        details=document.get("details"),
        actor_id=document.get("actor_id"),
        actor_name=document.get("actor_name"),
        opportunity_id=document.get("opportunity_id"),
        merged_from=document.get("merged_from"),
    )


class MongoInteractionRepository:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def add(self, interaction: Interaction) -> bool:
        try:
            await self.collection.insert_one(interaction_document(interaction))
        except DuplicateKeyError:
            return False
        return True

    @staticmethod
    def _filter(
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> dict[str, Any]:
        conditions: dict[str, Any] = {"customer_id": customer_id}
        if kinds:
            conditions["kind"] = {"$in": [kind.value for kind in kinds]}
        period: dict[str, Any] = {}
        if occurred_from is not None:
            period["$gte"] = occurred_from
        if occurred_to is not None:
            period["$lt"] = occurred_to
        if period:
            conditions["occurred_at"] = period
        return conditions

    async def page(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
        first: int,
        after: tuple[datetime, str] | None,
    ) -> TimelinePage:
        conditions = self._filter(customer_id, kinds, occurred_from, occurred_to)
        if after is not None:
            at, after_id = after
            conditions["sort_key"] = {"$lt": interaction_key(at, after_id)}
        cursor = self.collection.find(conditions).sort("sort_key", DESCENDING).limit(first + 1)
        documents = await cursor.to_list(None)
        return TimelinePage(
            items=[interaction_from_document(d) for d in documents[:first]],
            has_next=len(documents) > first,
        )

    async def count(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> int:
        return await self.collection.count_documents(
            self._filter(customer_id, kinds, occurred_from, occurred_to)
        )

    async def repoint(self, from_ids: Sequence[str], to_id: str) -> int:
        moved = 0
        for from_id in from_ids:
            result = await self.collection.update_many(
                {"customer_id": from_id},
                {"$set": {"customer_id": to_id, "merged_from": from_id}},
            )
            moved += result.modified_count
        return moved

    async def count_for(self, customer_ids: Sequence[str]) -> int:
        return await self.collection.count_documents({"customer_id": {"$in": list(customer_ids)}})


class MongoAuditRepository:
    """The audit collection, plus the entries still pending in customer documents (a write's
    entries are in the customer document first; see adapters/audit_log.py)."""

    def __init__(self, collection: Collection, pending: AuditMover | None = None) -> None:
        self.collection = collection
        self._pending = pending

    async def add(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        documents = [audit_log.audit_document(entry) for entry in entries]
        try:
            await self.collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:  # a retried write: entries already there are fine
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise

    async def page(
        self, customer_ids: Sequence[str], first: int, after: str | None
    ) -> tuple[list[AuditEntry], bool]:
        conditions: dict[str, Any] = {"customer_id": {"$in": list(customer_ids)}}
        if after is not None:
            conditions["sort_key"] = {"$lt": after}
        cursor = self.collection.find(conditions).sort("sort_key", DESCENDING).limit(first + 1)
        documents = await cursor.to_list(None)
        if self._pending is not None:
            # Read your writes: entries not moved yet (a crash, a move in flight) count too;
            # one moved but not yet pulled is in both places, hence by id.
            by_id = {d["_id"]: d for d in documents}
            for pending in (await self._pending.pending_for(customer_ids)).values():
                for entry in pending:
                    if after is None or entry["sort_key"] < after:
                        by_id.setdefault(entry["_id"], entry)
            documents = sorted(by_id.values(), key=lambda d: d["sort_key"], reverse=True)
        entries = [audit_log.audit_from_document(d) for d in documents[:first]]
        return entries, len(documents) > first
