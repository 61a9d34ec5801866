"""MongoDB adapters: the event store, the deal repository and the read model.

Collections of the ``analytics`` database:

``events``
    Every event received, ``_id`` = CloudEvent id, envelope as received plus ``receivedAt``.
    It is the event store and, by its ids, the record of processed events. Indexed by
    ``(subject, sequence)`` (held events, rebuild) and ``data.pipelineId`` (backtest).
``opportunities``
    One document per opportunity: the ``DealState`` (``analytics.domain.deal``) with its
    revision ``rev`` (optimistic concurrency), plus query fields: ``stageId``/``stageOrder``/
    ``stageKind``, ``maxOpenOrderReached``/``reachedWon`` (the all-owner COHORT funnel groups on
    them), ``creditOwners`` (per-owner COHORT), ``moveTimes`` (SNAPSHOT).
``pipelines``
    One document per pipeline: the latest stage list seen in events (``stages``, ``stagesAsOf``)
    and ``changes``, a counter the worker bumps (at most every ``ANALYTICS_NOTIFY_SECONDS``)
    after applying events of the pipeline: the key of the API's cache of derived figures.

Reports read ``opportunities`` (one document per deal, never the events).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from analytics.domain.deal import Credit, DealState, Move, Stay
from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, Stage, StageKind
from analytics.service_layer.ports import ConcurrentUpdate
from crm_common.events import utcnow

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

EVENTS = "events"
OPPORTUNITIES = "opportunities"
PIPELINES = "pipelines"


async def ensure_indexes(db: Database, prefix: str = "") -> None:
    """Create the indexes the queries rely on (idempotent; run by every process at start)."""
    # Few indexes on purpose: every one costs on each of the worker's writes. Reports select
    # a pipeline's deals by (pipelineId, createdAt); the gap sweep finds held deals by the
    # sparse heldSince (absent unless events are held); the API's cache reads what changed
    # since its last look by (pipelineId, projectedAt).
    opportunities = db[prefix + OPPORTUNITIES]
    await opportunities.create_index([("pipelineId", 1), ("createdAt", 1)])
    await opportunities.create_index([("heldSince", 1)], sparse=True)
    await opportunities.create_index([("pipelineId", 1), ("projectedAt", 1)])
    if not prefix:
        await db[EVENTS].create_index([("subject", 1), ("sequence", 1)])
        # The backtest replays one pipeline's events in (subject, sequence) order.
        await db[EVENTS].create_index([("data.pipelineId", 1), ("subject", 1), ("sequence", 1)])


# -- (de)serialisation ------------------------------------------------------------------------


def _dec(value: Decimal | None) -> Decimal128 | None:
    return Decimal128(value) if value is not None else None


def _undec(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(str(value))


def stage_document(stage: Stage) -> Document:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": stage.kind.value,
        "probability": stage.probability,
        "rottingDays": stage.rotting_days,
    }


def stage_from_document(document: Mapping[str, Any]) -> Stage:
    rotting = document.get("rottingDays")
    return Stage(
        id=str(document["id"]),
        name=str(document["name"]),
        order=int(document["order"]),
        kind=StageKind(document["kind"]),
        probability=float(document.get("probability", 0.0)),
        rotting_days=int(rotting) if rotting is not None else None,
    )


def deal_document(state: DealState, revision: int) -> Document:
    stage = state.stage
    document: Document = {
        "_id": state.opportunity_id,
        "rev": revision,
        "lastSequence": state.last_sequence,
        "held": list(state.held),
        "gapsSkipped": state.gaps_skipped,
        "pipelineId": state.pipeline_id,
        "ownerId": state.owner_id,
        "customerId": state.customer_id,
        "title": state.title,
        "amount": (
            {"amount": _dec(state.amount), "currency": state.currency}
            if state.amount is not None
            else None
        ),
        "status": state.status.value if state.status is not None else None,
        "stage": stage_document(stage) if stage is not None else None,
        "stageId": stage.id if stage is not None else None,
        "stageOrder": stage.order if stage is not None else None,
        "stageKind": stage.kind.value if stage is not None else None,
        "createdAt": state.created_at,
        "updatedAt": state.updated_at,
        "closedAt": state.closed_at,
        "closedBy": state.closed_by,
        "expectedCloseDate": state.expected_close_date,
        "lostReason": state.lost_reason,
        "team": state.team,
        "maxOpenOrderReached": state.max_open_order,
        "reachedWon": state.reached_won,
        "stays": [
            {
                "stageId": s.stage_id,
                "stageName": s.stage_name,
                "order": s.order,
                "kind": s.kind.value,
                "enteredAt": s.entered_at,
                "leftAt": s.left_at,
                "ownerId": s.owner_id,
                "amount": _dec(s.amount),
                "currency": s.currency,
                "nextStageId": s.next_stage_id,
                "nextKind": s.next_kind.value if s.next_kind is not None else None,
            }
            for s in state.stays
        ],
        "moves": [
            {
                "at": m.at,
                "ownerId": m.owner_id,
                "fromStageId": m.from_stage_id,
                "fromOrder": m.from_order,
                "fromKind": m.from_kind.value if m.from_kind is not None else None,
                "toStageId": m.to_stage_id,
                "toOrder": m.to_order,
                "toKind": m.to_kind.value,
            }
            for m in state.moves
        ],
        "moveTimes": sorted({m.at for m in state.moves}),
        "credits": [
            {"stageId": k, "ownerId": c.owner_id, "advanced": c.advanced}
            for k, c in state.credits.items()
        ],
        "creditOwners": sorted({c.owner_id for c in state.credits.values() if c.owner_id}),
    }
    if state.held_since is not None:  # absent otherwise: the sparse index holds held deals only
        document["heldSince"] = state.held_since
    return document


def _kind(value: Any) -> StageKind | None:
    return StageKind(value) if value is not None else None


def deal_from_document(document: Mapping[str, Any]) -> DealState:
    amount = document.get("amount") or {}
    stage = document.get("stage")
    status = document.get("status")
    return DealState(
        opportunity_id=str(document["_id"]),
        last_sequence=int(document.get("lastSequence", 0)),
        held=[int(s) for s in document.get("held") or []],
        held_since=document.get("heldSince"),
        gaps_skipped=int(document.get("gapsSkipped", 0)),
        pipeline_id=document.get("pipelineId"),
        owner_id=document.get("ownerId"),
        customer_id=document.get("customerId"),
        title=document.get("title"),
        amount=_undec(amount.get("amount")),
        currency=amount.get("currency"),
        status=DealStatus(status) if status is not None else None,
        stage=stage_from_document(stage) if stage else None,
        created_at=document.get("createdAt"),
        updated_at=document.get("updatedAt"),
        closed_at=document.get("closedAt"),
        closed_by=document.get("closedBy"),
        expected_close_date=document.get("expectedCloseDate"),
        lost_reason=document.get("lostReason"),
        team=document.get("team"),
        max_open_order=document.get("maxOpenOrderReached"),
        reached_won=bool(document.get("reachedWon")),
        stays=[
            Stay(
                stage_id=s["stageId"],
                stage_name=s.get("stageName", ""),
                order=int(s["order"]),
                kind=StageKind(s["kind"]),
                entered_at=s["enteredAt"],
                left_at=s.get("leftAt"),
                owner_id=s.get("ownerId"),
                amount=_undec(s.get("amount")),
                currency=s.get("currency"),
                next_stage_id=s.get("nextStageId"),
                next_kind=_kind(s.get("nextKind")),
            )
            for s in document.get("stays") or []
        ],
        moves=[
            Move(
                at=m["at"],
                owner_id=m.get("ownerId"),
                from_stage_id=m.get("fromStageId"),
                from_order=m.get("fromOrder"),
                from_kind=_kind(m.get("fromKind")),
                to_stage_id=m["toStageId"],
                to_order=int(m["toOrder"]),
                to_kind=StageKind(m["toKind"]),
            )
            for m in document.get("moves") or []
        ],
        credits={
            c["stageId"]: Credit(c.get("ownerId"), bool(c.get("advanced")))
            for c in document.get("credits") or []
        },
    )


# -- event store ------------------------------------------------------------------------------


class MongoEventStore:
    def __init__(self, db: Database) -> None:
        self._events: Collection = db[EVENTS]

    async def contains(self, event_id: str) -> bool:
        return await self._events.find_one({"_id": event_id}, projection={"_id": 1}) is not None

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> bool:
        document = {**envelope, "_id": event_id, "receivedAt": utcnow()}
        try:
            await self._events.insert_one(document)
        except DuplicateKeyError:  # recorded by an earlier delivery
            return False
        return True

    async def append_many(self, items: list[tuple[str, Mapping[str, Any]]]) -> None:
        if not items:
            return
        received = utcnow()
        documents = [{**envelope, "_id": key, "receivedAt": received} for key, envelope in items]
        try:
            await self._events.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            # Duplicates (code 11000) are events recorded by an earlier delivery.
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def find(self, subject: str, sequence: int) -> Mapping[str, Any] | None:
        return await self._events.find_one({"subject": subject, "sequence": sequence})

    async def replay(self, pipeline_id: str | None = None) -> AsyncIterator[Mapping[str, Any]]:
        query: Document = {} if pipeline_id is None else {"data.pipelineId": pipeline_id}
        cursor = self._events.find(query).sort([("subject", 1), ("sequence", 1)])
        async for document in cursor:
            yield document


# -- deals ------------------------------------------------------------------------------------


class MongoDealRepository:
    """Deal states, with a write-through cache of the latest documents (``cache_size``; the
    worker is the only writer, and a stale entry only costs a ``ConcurrentUpdate`` retry)."""

    def __init__(self, db: Database, prefix: str = "", cache_size: int = 0) -> None:
        self._opportunities: Collection = db[prefix + OPPORTUNITIES]
        self._pipelines: Collection = db[prefix + PIPELINES]
        #: Stage lists already written, per pipeline (saves a write per event).
        self._known_stages: dict[str, tuple[Stage, ...]] = {}
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._cache_size = cache_size

    def _remember(self, document: Document) -> None:
        if self._cache_size <= 0:
            return
        key = document["_id"]
        self._cache[key] = document
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def get(self, opportunity_id: str) -> tuple[DealState, int] | None:
        document = self._cache.get(opportunity_id)
        if document is None:
            document = await self._opportunities.find_one({"_id": opportunity_id})
            if document is None:
                return None
        return deal_from_document(document), int(document.get("rev", 0))

    async def save(self, state: DealState, revision: int | None) -> None:
        if revision is None:
            document = deal_document(state, 1)
            document["projectedAt"] = utcnow()
            try:
                await self._opportunities.insert_one(document)
            except DuplicateKeyError as exc:
                self._cache.pop(state.opportunity_id, None)
                raise ConcurrentUpdate(state.opportunity_id) from exc
            self._remember(document)
            return
        document = deal_document(state, revision + 1)
        document["projectedAt"] = utcnow()
        result = await self._opportunities.replace_one(
            {"_id": state.opportunity_id, "rev": revision}, document
        )
        if result.matched_count == 0:
            self._cache.pop(state.opportunity_id, None)
            raise ConcurrentUpdate(state.opportunity_id)
        self._remember(document)

    async def insert_many(self, states: list[DealState]) -> None:
        if states:
            projected = utcnow()
            await self._opportunities.insert_many(
                [{**deal_document(s, 1), "projectedAt": projected} for s in states],
                ordered=False,
            )

    async def get_many(self, opportunity_ids: set[str]) -> dict[str, tuple[DealState, int]]:
        found: dict[str, Document] = {}
        missing: list[str] = []
        for key in opportunity_ids:
            cached = self._cache.get(key)
            if cached is not None:
                found[key] = cached
            else:
                missing.append(key)
        if missing:
            async for document in self._opportunities.find({"_id": {"$in": missing}}):
                found[str(document["_id"])] = document
        return {
            key: (deal_from_document(document), int(document.get("rev", 0)))
            for key, document in found.items()
        }

    async def save_many(self, states: list[tuple[DealState, int | None]]) -> set[str]:
        if not states:
            return set()
        operations: list[Any] = []
        documents: list[Document] = []
        projected = utcnow()
        for state, revision in states:
            document = deal_document(state, (revision or 0) + 1)
            document["projectedAt"] = projected
            documents.append(document)
            if revision is None:
                operations.append(InsertOne(document))
            else:
                operations.append(
                    ReplaceOne({"_id": state.opportunity_id, "rev": revision}, document)
                )
        conflicts: set[str] = set()
        try:
            result = await self._opportunities.bulk_write(operations, ordered=False)
            failed: list[int] = []
            if result.matched_count + result.inserted_count < len(operations):
                failed = await self._unmatched(states)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            failed = [int(e["index"]) for e in errors] + await self._unmatched(states)
        for index in set(failed):
            conflicts.add(states[index][0].opportunity_id)
        for document in documents:
            key = document["_id"]
            if key in conflicts:
                self._cache.pop(key, None)
            else:
                self._remember(document)
        return conflicts

    async def _unmatched(self, states: list[tuple[DealState, int | None]]) -> list[int]:
        """Indexes of the replaced states whose revision did not match (another writer)."""
        expected = {s.opportunity_id: (r or 0) + 1 for s, r in states if r is not None}
        if not expected:
            return []
        actual = {
            str(d["_id"]): int(d.get("rev", 0))
            async for d in self._opportunities.find(
                {"_id": {"$in": list(expected)}}, projection={"rev": 1}
            )
        }
        return [
            index
            for index, (state, revision) in enumerate(states)
            if revision is not None and actual.get(state.opportunity_id) != revision + 1
        ]

    async def note_pipeline(
        self, pipeline_id: str, stages: tuple[Stage, ...] | None, as_of: datetime
    ) -> None:
        if stages is None or self._known_stages.get(pipeline_id) == stages:
            return
        newer = {
            "_id": pipeline_id,
            "$or": [{"stagesAsOf": {"$lt": as_of}}, {"stagesAsOf": {"$exists": False}}],
        }
        set_stages = {"$set": {"stages": [stage_document(s) for s in stages], "stagesAsOf": as_of}}
        # DuplicateKeyError: the pipeline has a stage list at least as recent; keep it.
        with suppress(DuplicateKeyError):
            await self._pipelines.update_one(newer, set_stages, upsert=True)
        self._known_stages[pipeline_id] = stages

    async def bump(self, pipeline_id: str) -> None:
        """Count a change of the pipeline's projections (a cache key for derived figures)."""
        await self._pipelines.update_one({"_id": pipeline_id}, {"$inc": {"changes": 1}})

    async def held_before(self, moment: datetime) -> list[str]:
        cursor = self._opportunities.find({"heldSince": {"$lt": moment}}, projection={"_id": 1})
        return [str(document["_id"]) async for document in cursor]


class MongoReadModel:
    def __init__(self, db: Database) -> None:
        self._opportunities: Collection = db[OPPORTUNITIES]
        self._pipelines: Collection = db[PIPELINES]

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        document = await self._pipelines.find_one({"_id": pipeline_id})
        if document is None or not document.get("stages"):
            return None
        return [stage_from_document(stage) for stage in document.get("stages", [])]

    async def change_count(self, pipeline_id: str) -> int:
        document = await self._pipelines.find_one({"_id": pipeline_id}, projection={"changes": 1})
        return int(document.get("changes", 0)) if document else 0

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        match: Document = {"pipelineId": pipeline_id}
        created = _range(created_from, created_to)
        if created:
            match["createdAt"] = created
        if owner_id is not None:
            match["ownerId"] = owner_id
        pipeline: list[Document] = [
            {"$match": match},
            {
                "$group": {
                    "_id": {
                        "status": "$status",
                        "maxOpenOrder": "$maxOpenOrderReached",
                        "reachedWon": "$reachedWon",
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
        progress: list[DealProgress] = []
        async for row in await self._opportunities.aggregate(pipeline):
            key = row["_id"]
            status = key.get("status")
            if status is None:
                continue  # only held events so far: not yet a deal we know
            max_open = key.get("maxOpenOrder")
            progress.append(
                DealProgress(
                    status=DealStatus(status),
                    max_open_order=int(max_open) if max_open is not None else None,
                    reached_won=bool(key.get("reachedWon")),
                    count=int(row["n"]),
                )
            )
        return progress

    async def deals(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        created_before: datetime | None = None,
        credited_to: str | None = None,
        moved_from: datetime | None = None,
        moved_to: datetime | None = None,
        open_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[DealState]:
        match: Document = {"pipelineId": pipeline_id, "status": {"$ne": None}}
        created = _range(created_from, created_to)
        if created_before is not None:
            created["$lte"] = created_before
        if created:
            match["createdAt"] = created
        if credited_to is not None:
            match["creditOwners"] = credited_to
        moved = _range(moved_from, moved_to)
        if moved:
            match["moveTimes"] = {"$elemMatch": moved}
        if open_only:
            match["status"] = DealStatus.OPEN.value
        projection: Document | None = None
        if fields is not None:
            projection = {name: 1 for name in (*fields, "status", "stage", "ownerId", "team")}
        cursor = self._opportunities.find(match, projection=projection)
        return [deal_from_document(document) async for document in cursor]


def _range(start: datetime | None, end: datetime | None) -> Document:
    bounds: Document = {}
    if start is not None:
        bounds["$gte"] = start
    if end is not None:
        bounds["$lt"] = end
    return bounds


async def drop_projections(db: Database, prefix: str = "") -> None:
    with suppress(Exception):
        await db.drop_collection(prefix + OPPORTUNITIES)
    with suppress(Exception):
        await db.drop_collection(prefix + PIPELINES)


#: The fields the API keeps in memory per deal (``CachedReadModel``): every report but the
#: SNAPSHOT funnel (moves) and the per-owner COHORT funnel (credits) is computed from them.
CACHED_FIELDS = frozenset(
    {
        "status",
        "stage",
        "ownerId",
        "amount",
        "expectedCloseDate",
        "createdAt",
        "closedAt",
        "closedBy",
        "updatedAt",
        "maxOpenOrderReached",
        "reachedWon",
        "stays",
        "title",
        "team",
    }
)
#: Writes younger than this are read again by the next refresh (writes still landing; the
#: worker's and the API's clocks are assumed to agree within it).
SETTLE = timedelta(seconds=2)


@dataclass
class _View:
    deals: dict[str, DealState] = field(default_factory=dict)
    seen_until: datetime | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CachedReadModel:
    """The read model of the API: the deals of each pipeline asked for, in memory.

    The first report of a pipeline loads its deals (``CACHED_FIELDS`` only); every later
    report first reads the deals the worker wrote since the last look (the index
    ``(pipelineId, projectedAt)``; writes of the last ``SETTLE`` seconds are read again), so
    a report is as fresh as with a direct read, and costs a small indexed query plus
    arithmetic in memory. Reports
    that need the moves or the credits go to MongoDB (``MongoReadModel``). After
    ``analytics-rebuild`` swaps the projections in, restart the API processes.
    """

    def __init__(self, db: Database) -> None:
        self._direct = MongoReadModel(db)
        self._opportunities: Collection = db[OPPORTUNITIES]
        self._views: dict[str, _View] = {}

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        return await self._direct.stages(pipeline_id)

    async def change_count(self, pipeline_id: str) -> int:
        return await self._direct.change_count(pipeline_id)

    async def _view(self, pipeline_id: str) -> _View:
        view = self._views.setdefault(pipeline_id, _View())
        async with view.lock:
            started = utcnow()
            query: Document = {"pipelineId": pipeline_id}
            if view.seen_until is not None:
                query["projectedAt"] = {"$gt": view.seen_until}
            projection = {name: 1 for name in (*CACHED_FIELDS, "projectedAt")}
            latest: datetime | None = None
            async for document in self._opportunities.find(query, projection=projection):
                projected = document.get("projectedAt")
                if projected is not None and (latest is None or projected > latest):
                    latest = projected
                if document.get("status") is not None:
                    view.deals[str(document["_id"])] = deal_from_document(document)
            if latest is not None:
                # Writes of the last moments may still be landing (a bulk write is visible
                # document by document): look at them again next time.
                settled = min(latest, started - SETTLE)
                if view.seen_until is None or settled > view.seen_until:
                    view.seen_until = settled
        return view

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        deals = await self.deals(
            pipeline_id,
            created_from=created_from,
            created_to=created_to,
            fields=("status", "maxOpenOrderReached", "reachedWon", "ownerId"),
        )
        groups: dict[tuple[DealStatus, int | None, bool], int] = {}
        for deal in deals:
            if deal.status is None or (owner_id is not None and deal.owner_id != owner_id):
                continue
            key = (deal.status, deal.max_open_order, deal.reached_won)
            groups[key] = groups.get(key, 0) + 1
        return [
            DealProgress(status, max_open, won, count)
            for (status, max_open, won), count in groups.items()
        ]

    async def deals(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        created_before: datetime | None = None,
        credited_to: str | None = None,
        moved_from: datetime | None = None,
        moved_to: datetime | None = None,
        open_only: bool = False,
        fields: tuple[str, ...] | None = None,
    ) -> list[DealState]:
        needs_more = fields is None or not set(fields) <= CACHED_FIELDS
        if needs_more or credited_to is not None or moved_from or moved_to:
            return await self._direct.deals(
                pipeline_id,
                created_from=created_from,
                created_to=created_to,
                created_before=created_before,
                credited_to=credited_to,
                moved_from=moved_from,
                moved_to=moved_to,
                open_only=open_only,
                fields=fields,
            )
        view = await self._view(pipeline_id)
        found: list[DealState] = []
        for deal in view.deals.values():
            created = deal.created_at
            if created is None:
                continue
            if created_from is not None and created < created_from:
                continue
            if created_to is not None and created >= created_to:
                continue
            if created_before is not None and created > created_before:
                continue
            if open_only and not deal.is_open:
                continue
            found.append(deal)
        return found
