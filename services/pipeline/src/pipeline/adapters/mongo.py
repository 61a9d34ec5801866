"""MongoDB repositories of the pipeline service (database ``pipeline``).

Collections:

- ``pipelines``: one document per pipeline, its stages embedded.
- ``opportunities``: one document per opportunity, its stage history embedded, plus the
  outbox: ``outbox`` (CloudEvents not yet published, oldest first) and ``outbox_pending``
  (true while the outbox may hold events; sparse-indexed, so the relay's query reads only
  the index entries of documents with pending events). A change and its events are ONE
  ``insert_one``/``update_one`` of one document, hence atomic without transactions.
- ``known_customers``: customers announced by ``customers.customer.created`` events.
- ``processed_events``: ids of consumed customer events whose effects are written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.events import CloudEvent
from crm_common.outbox import (
    OUTBOX,
    OUTBOX_PENDING,
    PENDING_INDEX,
    WITHOUT_OUTBOX,
    OutboxListener,
    with_outbox_append,
)
from crm_common.pagination import KeysetCursor
from pipeline.adapters.catalogue import (
    create_product_indexes,
    line_item_from_doc,
    line_item_to_doc,
)
from pipeline.adapters.opportunity_lists import (
    LIST_INDEXES,
    LIST_VERSION,
    after_condition,
    encode,
    filter_query,
    list_fields,
    order_of,
    scope_query,
)
from pipeline.adapters.quotes import create_quote_indexes
from pipeline.domain.access import Scope
from pipeline.domain.board import StageSum
from pipeline.domain.model import (
    Opportunity,
    OpportunityStatus,
    Pipeline,
    Priority,
    Stage,
    StageKind,
    StageTransition,
)
from pipeline.domain.money import Money
from pipeline.service_layer.ports import (
    CustomerFacts,
    CustomerOwner,
    OpportunityFilter,
    OpportunityPage,
    OpportunitySort,
)

Document = dict[str, Any]

PIPELINES = "pipelines"
OPPORTUNITIES = "opportunities"
KNOWN_CUSTOMERS = "known_customers"
PROCESSED_EVENTS = "processed_events"

# Reads never need the outbox; the relay reads it on its own.
_NO_OUTBOX = WITHOUT_OUTBOX

_COLUMN_ENDS_MAX = 10_000  # columns whose last rank a repository remembers


async def create_indexes(db: AsyncDatabase[Document]) -> None:
    opportunities = db[OPPORTUNITIES]
    await opportunities.create_indexes([PENDING_INDEX])
    await opportunities.create_index(
        [("pipeline_id", ASCENDING), ("stage_id", ASCENDING), ("position", ASCENDING)],
        name="column_position",
    )
    await opportunities.create_index(
        [("customer_id", ASCENDING), ("created_at", DESCENDING)], name="customer"
    )
    await opportunities.create_index(
        [("created_at", DESCENDING), ("_id", DESCENDING)], name="newest_first"
    )
    await opportunities.create_index([("owner_id", ASCENDING)], name="owner")
    for keys, name in LIST_INDEXES:
        await opportunities.create_index(keys, name=name)
    await backfill_list_fields(opportunities)
    await create_product_indexes(db)
    await create_quote_indexes(db)
    await opportunities.create_index([("team", ASCENDING)], name="team")


async def backfill_list_fields(opportunities: AsyncCollection[Document]) -> None:
    """Deals written before the list's search fields get them: a run with nothing to do is
    one look-up in the ``list_version`` index (a missing field is indexed as null)."""
    stale = opportunities.find({"list_version": {"$in": [None, *range(1, LIST_VERSION)]}})
    async for doc in stale:
        await opportunities.update_one(
            {"_id": doc["_id"]}, {"$set": opportunity_state(opportunity_from_doc(doc))}
        )


# -- mapping -------------------------------------------------------------------------------


def money_to_doc(money: Money) -> Document:
    return {"amount": Decimal128(money.formatted_amount()), "currency": money.currency}


def money_from_doc(doc: Document) -> Money:
    amount = doc["amount"]
    value = amount.to_decimal() if isinstance(amount, Decimal128) else Decimal(str(amount))
    return Money(value, doc["currency"])


def stage_to_doc(stage: Stage) -> Document:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "probability": stage.probability,
        "kind": str(stage.kind),
        "rotting_days": stage.rotting_days,
        "retired": stage.retired,
    }


def pipeline_to_doc(pipeline: Pipeline) -> Document:
    return {
        "_id": pipeline.id,
        "name": pipeline.name,
        "stages": [stage_to_doc(s) for s in pipeline.stages],
        "version": pipeline.version,
    }


def pipeline_from_doc(doc: Document) -> Pipeline:
    return Pipeline(
        id=doc["_id"],
        name=doc["name"],
        stages=tuple(
            Stage(
                id=s["id"],
                name=s["name"],
                order=s["order"],
                probability=float(s["probability"]),
                kind=StageKind(s["kind"]),
                rotting_days=s.get("rotting_days"),
                retired=bool(s.get("retired", False)),
            )
            for s in doc["stages"]
        ),
        version=int(doc.get("version", 1)),
    )


def _transition_to_doc(t: StageTransition) -> Document:
    return {
        "from_stage_id": t.from_stage_id,
        "to_stage_id": t.to_stage_id,
        "at": t.at,
        "actor_id": t.actor_id,
        "owner_id": t.owner_id,
        "amount": money_to_doc(t.amount),
    }


def _transition_from_doc(doc: Document) -> StageTransition:
    return StageTransition(
        from_stage_id=doc.get("from_stage_id"),
        to_stage_id=doc["to_stage_id"],
        at=doc["at"],
        actor_id=doc.get("actor_id"),
        owner_id=doc["owner_id"],
        amount=money_from_doc(doc["amount"]),
    )


def opportunity_state(o: Opportunity) -> Document:
    """Every field of the opportunity except ``_id`` and ``created_at`` (which never change)."""
    return {
        "title": o.title,
        "customer_id": o.customer_id,
        "amount": money_to_doc(o.amount),
        "owner_id": o.owner_id,
        "pipeline_id": o.pipeline_id,
        "stage_id": o.stage_id,
        "status": str(o.status),
        "position": o.position,
        "expected_close_date": o.expected_close_date.isoformat() if o.expected_close_date else None,
        "lost_reason": o.lost_reason,
        "stage_history": [_transition_to_doc(t) for t in o.stage_history],
        "version": o.version,
        "updated_at": o.updated_at,
        "team": o.team,
        "priority": str(o.priority),
        "next_step": o.next_step,
        "closed_at": o.closed_at,
        "line_items": [line_item_to_doc(line) for line in o.line_items],
        **list_fields(
            opportunity_id=o.id,
            title=o.title,
            expected_close=o.expected_close_date,
            amount=o.amount.amount,
            created_at=o.created_at,
            updated_at=o.updated_at,
        ),
        "source": o.source,
    }


def opportunity_from_doc(doc: Document) -> Opportunity:
    close = doc.get("expected_close_date")
    return Opportunity(
        id=doc["_id"],
        title=doc["title"],
        customer_id=doc["customer_id"],
        amount=money_from_doc(doc["amount"]),
        owner_id=doc["owner_id"],
        pipeline_id=doc["pipeline_id"],
        stage_id=doc["stage_id"],
        status=OpportunityStatus(doc["status"]),
        position=doc["position"],
        expected_close_date=date.fromisoformat(close) if close else None,
        lost_reason=doc.get("lost_reason"),
        stage_history=[_transition_from_doc(t) for t in doc.get("stage_history", [])],
        version=doc["version"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        team=doc.get("team"),
        priority=Priority(doc.get("priority") or "MEDIUM"),
        next_step=doc.get("next_step"),
        closed_at=doc.get("closed_at"),
        line_items=[line_item_from_doc(line) for line in doc.get("line_items") or ()],
        source=doc.get("source") or None,
    )


def event_to_doc(event: CloudEvent) -> Document:
    return event.model_dump(exclude_none=True)


# -- repositories --------------------------------------------------------------------------


class MongoPipelineRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._pipelines: AsyncCollection[Document] = db[PIPELINES]

    async def get(self, pipeline_id: str) -> Pipeline | None:
        doc = await self._pipelines.find_one({"_id": pipeline_id})
        return pipeline_from_doc(doc) if doc else None

    async def get_many(self, pipeline_ids: Sequence[str]) -> dict[str, Pipeline]:
        cursor = self._pipelines.find({"_id": {"$in": list(set(pipeline_ids))}})
        return {doc["_id"]: pipeline_from_doc(doc) async for doc in cursor}

    async def list_all(self) -> list[Pipeline]:
        # The default pipeline first, then the others by name.
        pipelines = [pipeline_from_doc(doc) async for doc in self._pipelines.find({})]
        return sorted(pipelines, key=lambda p: (p.id != "default", p.name.casefold(), p.id))

    async def add(self, pipeline: Pipeline) -> None:
        await self._pipelines.insert_one(pipeline_to_doc(pipeline))

    async def ensure(self, pipeline: Pipeline) -> None:
        doc = pipeline_to_doc(pipeline)
        del doc["_id"]
        await self._pipelines.update_one({"_id": pipeline.id}, {"$setOnInsert": doc}, upsert=True)

    async def save(self, pipeline: Pipeline, loaded_version: int) -> bool:
        doc = pipeline_to_doc(pipeline)
        del doc["_id"]
        # Documents seeded before pipelines had versions count as version 1.
        version_filter: Document = (
            {"$or": [{"version": 1}, {"version": {"$exists": False}}]}
            if loaded_version == 1
            else {"version": loaded_version}
        )
        result = await self._pipelines.update_one(
            {"_id": pipeline.id, **version_filter}, {"$set": doc}
        )
        return result.matched_count == 1


#: A board column's cards, in board order (position, then id).
POSITION_CURSORS = KeysetCursor("opportunity:position")


def encode_position_cursor(o: Opportunity) -> str:
    return POSITION_CURSORS.encode(o.position, o.id)


def decode_position_cursor(cursor: str) -> tuple[str, str]:
    position, opportunity_id = POSITION_CURSORS.decode_str(cursor)
    return position, opportunity_id


class MongoOpportunityRepository:
    """``outbox_listener`` (the in-process relay) gets each written document's whole pending
    outbox right after the write (its fast path: no read back, no sweep per write)."""

    def __init__(
        self, db: AsyncDatabase[Document], outbox_listener: OutboxListener | None = None
    ) -> None:
        self._opportunities: AsyncCollection[Document] = db[OPPORTUNITIES]
        self._listener = outbox_listener
        # (pipeline id, stage id) -> the last card's rank seen at the end of that column.
        self._column_ends: dict[tuple[str, str], str] = {}

    def listen(self, outbox_listener: OutboxListener | None) -> None:
        self._listener = outbox_listener

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._opportunities

    # -- writes (the outbox) --

    async def add(self, opportunity: Opportunity, events: Sequence[CloudEvent]) -> None:
        doc: Document = {
            "_id": opportunity.id,
            **opportunity_state(opportunity),
            "created_at": opportunity.created_at,
            OUTBOX: [event_to_doc(e) for e in events],
        }
        if events:
            doc[OUTBOX_PENDING] = True
        await self._opportunities.insert_one(doc)
        if self._listener is not None and doc[OUTBOX]:
            self._listener.submit(opportunity.id, doc[OUTBOX])

    async def save(
        self, opportunity: Opportunity, loaded_version: int, events: Sequence[CloudEvent]
    ) -> bool:
        update: Document = {"$set": opportunity_state(opportunity)}
        where = {"_id": opportunity.id, "version": loaded_version}
        if not events:
            result = await self._opportunities.update_one(where, update)
            return result.matched_count == 1
        with_outbox_append(update, [event_to_doc(e) for e in events])
        # One atomic write of the state and its events. Not ``find_one_and_update``: the
        # SecantusDB stand-in runs findAndModify's write as a collection scan (its write
        # filter is ``{_id, $and: [query]}``, which no index serves), ~10-30 ms a move.
        result = await self._opportunities.update_one(where, update)
        if result.matched_count != 1:
            return False
        if self._listener is not None:
            # The document's whole pending outbox (older events a failed publish left
            # behind come first), for the relay's fast path: a point read by _id.
            written = await self._opportunities.find_one({"_id": opportunity.id}, {OUTBOX: 1})
            self._listener.submit(opportunity.id, (written or {}).get(OUTBOX) or [])
        return True

    # -- reads for commands --

    async def get(self, opportunity_id: str) -> Opportunity | None:
        doc = await self._opportunities.find_one({"_id": opportunity_id}, _NO_OUTBOX)
        return opportunity_from_doc(doc) if doc else None

    async def _edge_position(self, query: Document, direction: int, exclude_id: str) -> str | None:
        # ``exclude_id`` is skipped here rather than with ``_id: {$ne: ...}`` in the filter:
        # SecantusDB serves ``{pipeline_id, stage_id[, position range]}`` from the
        # ``column_position`` index but scans the whole collection once ``_id`` joins in.
        cursor = self._opportunities.find(
            query, {"position": 1}, sort=[("position", direction), ("_id", direction)], limit=2
        )
        async for doc in cursor:
            if doc["_id"] != exclude_id:
                return str(doc["position"])
        return None

    async def position_before(
        self, pipeline_id: str, stage_id: str, rank: str | None, exclude_id: str
    ) -> str | None:
        query: Document = {"pipeline_id": pipeline_id, "stage_id": stage_id}
        if rank is not None:
            query["position"] = {"$lt": rank}
            return await self._edge_position(query, DESCENDING, exclude_id)
        # The end of the column. SecantusDB reads (and sorts) every card of the column for
        # this query, whatever its limit; bounded below by the last end this process saw,
        # it reads only the cards appended since. Only a shortcut: when no other card is at
        # or above that rank any more, the whole column answers.
        column = (pipeline_id, stage_id)
        seen = self._column_ends.get(column)
        last = None
        if seen is not None:
            last = await self._edge_position(
                {**query, "position": {"$gte": seen}}, DESCENDING, exclude_id
            )
        if last is None:
            last = await self._edge_position(query, DESCENDING, exclude_id)
        if last is not None:
            if len(self._column_ends) >= _COLUMN_ENDS_MAX:
                self._column_ends.clear()
            self._column_ends[column] = last
        return last

    async def position_after(
        self, pipeline_id: str, stage_id: str, rank: str, exclude_id: str
    ) -> str | None:
        query: Document = {
            "pipeline_id": pipeline_id,
            "stage_id": stage_id,
            "position": {"$gt": rank},
        }
        return await self._edge_position(query, ASCENDING, exclude_id)

    # -- reads for queries --

    async def get_many(self, opportunity_ids: Sequence[str]) -> dict[str, Opportunity]:
        cursor = self._opportunities.find({"_id": {"$in": list(set(opportunity_ids))}}, _NO_OUTBOX)
        return {doc["_id"]: opportunity_from_doc(doc) async for doc in cursor}

    async def ids_of_customers(
        self, customer_ids: Sequence[str], *, owner_id: str | None = None, open_only: bool = False
    ) -> list[str]:
        query: Document = {"customer_id": {"$in": list(set(customer_ids))}}
        if owner_id is not None:
            query["owner_id"] = owner_id
        if open_only:
            query["status"] = str(OpportunityStatus.OPEN)
        cursor = self._opportunities.find(query, {"_id": 1}, sort=[("_id", ASCENDING)])
        return [doc["_id"] async for doc in cursor]

    async def open_ids_of_owner(self, owner_id: str, *, team: str | None = None) -> list[str]:
        query: Document = {"owner_id": owner_id, "status": str(OpportunityStatus.OPEN)}
        if team is not None:
            query["team"] = team
        cursor = self._opportunities.find(query, {"_id": 1}, sort=[("_id", ASCENDING)])
        return [doc["_id"] async for doc in cursor]

    async def column_totals(self, where: OpportunityFilter) -> list[StageSum]:
        """Count and total amount per (stage, currency) of the matching opportunities, in ONE
        aggregation (MongoDB sums the Decimal128 amounts exactly)."""
        cursor = await self._opportunities.aggregate(
            [
                {"$match": filter_query(where)},
                {
                    "$group": {
                        "_id": {"stage": "$stage_id", "currency": "$amount.currency"},
                        "count": {"$sum": 1},
                        "total": {"$sum": "$amount.amount"},
                    }
                },
            ]
        )
        totals = []
        async for doc in cursor:
            total = doc["total"]
            amount = total.to_decimal() if isinstance(total, Decimal128) else Decimal(str(total))
            totals.append(
                StageSum(doc["_id"]["stage"], doc["_id"]["currency"], doc["count"], amount)
            )
        return totals

    async def column_page(
        self, where: OpportunityFilter, first: int, after: str | None
    ) -> OpportunityPage:
        """One column's cards in board order (position, then id); keyset pagination."""
        query = filter_query(where)
        if after is not None:
            position, last_id = decode_position_cursor(after)
            query = {
                "$and": [
                    query,
                    {
                        "$or": [
                            {"position": {"$gt": position}},
                            {"position": position, "_id": {"$gt": last_id}},
                        ]
                    },
                ]
            }
        cursor = self._opportunities.find(
            query,
            _NO_OUTBOX,
            sort=[("position", ASCENDING), ("_id", ASCENDING)],
            limit=first + 1,
        )
        docs = [doc async for doc in cursor]
        items = [opportunity_from_doc(doc) for doc in docs[:first]]
        return OpportunityPage(
            items=[(encode_position_cursor(o), o) for o in items],
            total_count=-1,  # the board's column count answers this
            has_next_page=len(docs) > first,
        )

    async def by_customers(
        self, customer_ids: Sequence[str], scope: Scope | None = None
    ) -> dict[str, list[Opportunity]]:
        """All (visible) opportunities of these customers, newest first, in ONE query."""
        found: dict[str, list[Opportunity]] = {cid: [] for cid in customer_ids}
        query: Document = {"customer_id": {"$in": list(set(customer_ids))}}
        if scope is not None and not scope.all:
            query = {"$and": [query, scope_query(scope)]}
        cursor = self._opportunities.find(
            query,
            _NO_OUTBOX,
            sort=[("created_at", DESCENDING), ("_id", DESCENDING)],
        )
        async for doc in cursor:
            found.setdefault(doc["customer_id"], []).append(opportunity_from_doc(doc))
        return found

    async def page(
        self,
        where: OpportunityFilter,
        first: int,
        after: str | None,
        sort: OpportunitySort | None = None,
    ) -> OpportunityPage:
        """In the list's order (default newest first); keyset pagination on (value, id)."""
        order, direction = order_of(sort)
        query = filter_query(where)
        total = await self._opportunities.count_documents(query)
        if after is not None:
            beyond = after_condition(order, direction, after)
            if order.field in query:  # never the case today; keep both conditions
                query = {**query, "$and": [*query.get("$and", []), beyond]}
            else:
                query = {**query, **beyond}
        cursor = self._opportunities.find(
            query,
            _NO_OUTBOX,
            sort=[(order.field, direction)],
            limit=first + 1,
        )
        docs = [doc async for doc in cursor]
        return OpportunityPage(
            items=[(encode(order, doc), opportunity_from_doc(doc)) for doc in docs[:first]],
            total_count=total,
            has_next_page=len(docs) > first,
        )


class MongoKnownCustomers:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._customers: AsyncCollection[Document] = db[KNOWN_CUSTOMERS]

    async def exists(self, customer_id: str) -> bool:
        return await self._customers.find_one({"_id": customer_id}, {"_id": 1}) is not None

    async def owner_of(self, customer_id: str) -> CustomerOwner | None:
        doc = await self._customers.find_one({"_id": customer_id}, {"owner_id": 1, "team": 1})
        if doc is None:
            return None
        owner, team = doc.get("owner_id"), doc.get("team")
        return CustomerOwner(
            owner_id=owner if isinstance(owner, str) else None,
            team=team if isinstance(team, str) else None,
        )

    async def remember(self, customer: CustomerFacts) -> None:
        # Owner first: ``exists`` answers from the same document, so a deal opened the moment
        # the customer is known already finds whom it belongs to (two writes, this order).
        if customer.owner_id is not None:
            await self.belongs_to(
                customer.customer_id,
                CustomerOwner(customer.owner_id, customer.team),
                customer.version,
            )
        await self._customers.update_one(
            {"_id": customer.customer_id},
            {
                "$set": {
                    "name": customer.name,
                    "kind": customer.kind,
                    "lifecycle": customer.lifecycle,
                    "last_event_id": customer.event_id,
                    "source": customer.source,
                }
            },
            upsert=True,
        )

    async def belongs_to(self, customer_id: str, owner: CustomerOwner, version: int) -> None:
        # Only over an older version (or none): a late ``created`` or a redelivered
        # ``updated`` never takes back a newer owner. A customer heard of before its
        # ``created`` event is inserted; one of a newer version fails the upsert's insert.
        with contextlib.suppress(DuplicateKeyError):
            await self._customers.update_one(
                {
                    "_id": customer_id,
                    "$or": [
                        {"owner_version": {"$exists": False}},
                        {"owner_version": {"$lt": version}},
                    ],
                },
                {
                    "$set": {
                        "owner_id": owner.owner_id,
                        "team": owner.team,
                        "owner_version": version,
                    }
                },
                upsert=True,
            )

    async def transferred(
        self, customer_ids: Sequence[str], from_owner: str, to_owner: str
    ) -> None:
        if customer_ids:
            await self._customers.update_many(
                {"_id": {"$in": list(customer_ids)}, "owner_id": from_owner},
                {"$set": {"owner_id": to_owner}},
            )

    async def merged(self, survivor_id: str, merged_ids: Sequence[str]) -> None:
        for merged_id in merged_ids:
            await self._customers.update_one(
                {"_id": merged_id}, {"$set": {"merged_into": survivor_id}}, upsert=True
            )

    async def source_of(self, customer_id: str) -> dict[str, str] | None:
        doc = await self._customers.find_one({"_id": customer_id}, {"source": 1})
        source = doc.get("source") if doc else None
        if not isinstance(source, dict):
            return None
        return {k: v for k, v in source.items() if isinstance(k, str) and isinstance(v, str)}

    async def survivor_of(self, customer_id: str) -> str | None:
        doc = await self._customers.find_one({"_id": customer_id}, {"merged_into": 1})
        survivor = doc.get("merged_into") if doc else None
        return survivor if isinstance(survivor, str) else None


class MongoProcessedEvents:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._events: AsyncCollection[Document] = db[PROCESSED_EVENTS]

    async def seen(self, event_id: str) -> bool:
        return await self._events.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def mark(self, event_id: str, event_type: str) -> None:
        await self._events.update_one(
            {"_id": event_id},
            {"$setOnInsert": {"type": event_type, "at": datetime.now(UTC)}},
            upsert=True,
        )
