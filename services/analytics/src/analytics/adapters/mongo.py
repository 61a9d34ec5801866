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
    after applying events of the pipeline: the key of the API's cache of derived figures;
    ``generation``, raised by each ``analytics-rebuild`` that swaps projections in (absent: 0),
    and ``snapshot``, the current snapshot of the pipeline's deals (see ``snapshots``).
``snapshots``
    Compressed chunks of the API's deal cache (see ``analytics.adapters.snapshot``).

Reports read ``opportunities`` (one document per deal, never the events).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from prometheus_client import Counter, Gauge
from pymongo import InsertOne, ReplaceOne, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from analytics.adapters.snapshot import SnapshotHead, SnapshotStore, ensure_snapshot_indexes
from analytics.domain.deal import Credit, DealState, Move, Stay
from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, Stage, StageKind
from analytics.service_layer.ports import ConcurrentUpdate
from crm_common.events import utcnow

log = logging.getLogger(__name__)

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

EVENTS = "events"
OPPORTUNITIES = "opportunities"
PIPELINES = "pipelines"
#: ``{_id: "projections", generation}``: the last generation handed out by a rebuild.
META = "meta"


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
        await ensure_snapshot_indexes(db)


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

    async def insert_many(
        self, states: list[DealState], projected_at: datetime | None = None
    ) -> None:
        """Insert new states (rebuild, bulk load); ``projected_at`` defaults to now."""
        if states:
            projected = projected_at or utcnow()
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


async def next_generation(db: Database) -> int:
    """A new projections generation (1, 2, ...): ``analytics-rebuild`` stores it in the
    pipelines' documents it swaps in, and API processes reload a pipeline whose generation
    changed (their cached deals came from projections that no longer exist)."""
    document = await db[META].find_one_and_update(
        {"_id": "projections"},
        {"$inc": {"generation": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int((document or {}).get("generation") or 1)


async def drop_projections(db: Database, prefix: str = "") -> None:
    with suppress(Exception):
        await db.drop_collection(prefix + OPPORTUNITIES)
    with suppress(Exception):
        await db.drop_collection(prefix + PIPELINES)


#: The fields the API keeps in memory per deal (``CachedReadModel``): every report but the
#: SNAPSHOT funnel (moves) and the per-owner COHORT funnel (credits) is computed from them.
#: ``analytics.adapters.snapshot`` stores exactly these.
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
_MILLISECOND = timedelta(milliseconds=1)

CACHE_LOADS = Counter(
    "crm_analytics_cache_loads_total",
    "Pipelines loaded into the API's deal cache, by source (snapshot or opportunities)",
    ["source"],
)
CACHE_EVICTIONS = Counter(
    "crm_analytics_cache_evictions_total", "Pipelines evicted from the API's deal cache"
)
CACHE_GENERATIONS = Counter(
    "crm_analytics_cache_generation_reloads_total",
    "Pipelines reloaded because analytics-rebuild replaced the projections",
)
CACHE_SNAPSHOTS = Counter(
    "crm_analytics_cache_snapshots_written_total", "Deal-cache snapshots written by the API"
)
CACHE_DEALS = Gauge("crm_analytics_cache_deals", "Deals held in the API's deal cache")


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Bounds and snapshot policy of ``CachedReadModel`` (``ANALYTICS_CACHE_*`` settings)."""

    #: Pipelines and deals held; the least recently used pipeline is evicted beyond either
    #: (the pipeline being read stays, even alone above ``max_deals``).
    max_pipelines: int = 64
    max_deals: int = 1_000_000
    #: Load pipelines from their snapshots, and write snapshots (after a load from
    #: ``opportunities``, and once ``snapshot_changes`` deals were read since the last one,
    #: at most every ``snapshot_seconds``).
    snapshots: bool = True
    snapshot_changes: int = 5_000
    snapshot_seconds: float = 300.0


@dataclass
class _View:
    deals: dict[str, DealState] = field(default_factory=dict)
    seen_until: datetime | None = None
    loaded: bool = False
    #: The projections' generation the deals come from (see ``analytics-rebuild``).
    generation: int = 0
    #: Deals read since the last snapshot, when it was written, whether one is due now.
    since_snapshot: int = 0
    snapshot_at: float = 0.0
    snapshot_due: bool = False
    writing: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def name_snapshot(db: Database, pipeline_id: str, head: SnapshotHead) -> bool:
    """Make ``head`` the pipeline's snapshot unless a newer one (or another generation) is."""
    generation: Document = (
        {"generation": head.generation}
        if head.generation
        else {"$or": [{"generation": {"$exists": False}}, {"generation": 0}]}
    )
    newer = {
        "$or": [
            {"snapshot": {"$exists": False}},
            {"snapshot.watermark": {"$lt": head.watermark}},
        ]
    }
    result = await db[PIPELINES].update_one(
        {"_id": pipeline_id, "$and": [generation, newer]},
        {"$set": {"snapshot": head.document(utcnow())}},
    )
    return result.matched_count == 1


class CachedReadModel:
    """The read model of the API: the deals of each pipeline asked for, in memory.

    The first report of a pipeline loads its deals (``CACHED_FIELDS`` only): from its snapshot
    (``analytics.adapters.snapshot``: a few large documents) when there is one of the current
    generation, else from ``opportunities`` (one document per deal: slow at 100k deals, so a
    snapshot is written right after such a load). Every report first reads the deals the worker
    wrote since the last look (the index ``(pipelineId, projectedAt)``; writes of the last
    ``SETTLE`` seconds are read again), so a report is as fresh as with a direct read, and
    costs a small indexed query plus arithmetic in memory. The same catch-up after a snapshot
    makes snapshot + catch-up equal to a full read. Reports that need the moves or the credits
    go to MongoDB (``MongoReadModel``).

    Each refresh also reads the pipeline's ``generation``: ``analytics-rebuild`` raises it when
    it swaps rebuilt projections in, and a view of another generation is dropped and reloaded.
    Pipelines are evicted least recently used first beyond ``CacheLimits``; an evicted one is
    reloaded (from its snapshot) when asked for again.
    """

    def __init__(self, db: Database, limits: CacheLimits | None = None) -> None:
        self._direct = MongoReadModel(db)
        self._db = db
        self._opportunities: Collection = db[OPPORTUNITIES]
        self._pipelines: Collection = db[PIPELINES]
        self._snapshots = SnapshotStore(db)
        self._limits = limits or CacheLimits()
        self._views: OrderedDict[str, _View] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        #: What happened so far (also counted in the process's metrics).
        self.loads: dict[str, int] = {}
        self.evictions = 0
        self.generation_reloads = 0
        self.snapshots_written = 0

    @property
    def cached_pipelines(self) -> list[str]:
        """Pipelines held, least recently used first."""
        return list(self._views)

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        return await self._direct.stages(pipeline_id)

    async def change_count(self, pipeline_id: str) -> int:
        return await self._direct.change_count(pipeline_id)

    async def warm(self, limit: int) -> list[str]:
        """Load up to ``limit`` pipelines that have a snapshot (largest first) within the
        cache limits, so that the first reports after a start find them in memory."""
        heads = [
            (head.deals, str(document["_id"]))
            async for document in self._pipelines.find(
                {"snapshot": {"$exists": True}}, projection={"snapshot": 1}
            )
            if (head := SnapshotHead.of(document)) is not None
        ]
        warmed: list[str] = []
        total = 0
        for deals, pipeline_id in sorted(heads, reverse=True):
            if len(warmed) >= min(limit, self._limits.max_pipelines):
                break
            if warmed and total + deals > self._limits.max_deals:
                continue
            await self._view(pipeline_id)
            warmed.append(pipeline_id)
            total += deals
        return warmed

    async def close(self, wait: bool = False) -> None:
        """Stop snapshot writes in progress (their chunks are removed later as orphans),
        or with ``wait`` let them finish."""
        if not wait:
            for task in list(self._tasks):
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _view(self, pipeline_id: str) -> _View:
        view = self._views.get(pipeline_id)
        if view is None:
            view = self._views[pipeline_id] = _View()
        self._views.move_to_end(pipeline_id)
        async with view.lock:
            started = utcnow()
            pipeline = await self._pipelines.find_one(
                {"_id": pipeline_id}, projection={"generation": 1, "snapshot": 1}
            )
            generation = int((pipeline or {}).get("generation") or 0)
            if view.loaded and view.generation != generation:
                log.info(
                    "projections rebuilt: reloading the pipeline's deals",
                    extra={"pipeline_id": pipeline_id, "generation": generation},
                )
                CACHE_GENERATIONS.inc()
                self.generation_reloads += 1
                view.deals, view.seen_until, view.loaded = {}, None, False
            if not view.loaded:
                await self._load(pipeline_id, view, pipeline, generation)
            view.since_snapshot += await self._catch_up(pipeline_id, view, started)
            self._maybe_snapshot(pipeline_id, view)
        self._evict(keep=pipeline_id)
        return view

    async def _load(
        self, pipeline_id: str, view: _View, pipeline: Document | None, generation: int
    ) -> None:
        head = SnapshotHead.of(pipeline)
        deals: list[DealState] | None = None
        if self._limits.snapshots and head is not None and head.generation == generation:
            try:
                deals = await self._snapshots.load(pipeline_id, head)
            except Exception as exc:  # a damaged snapshot only costs the slow path
                log.warning("snapshot unreadable", extra={"error": repr(exc)})
        view.generation, view.loaded = generation, True
        view.since_snapshot, view.snapshot_at = 0, time.monotonic()
        if head is not None and deals is not None:
            view.deals = {deal.opportunity_id: deal for deal in deals}
            view.seen_until = head.watermark
            view.snapshot_due = False
            self._count_load("snapshot")
        else:
            # The catch-up from no watermark reads every deal; snapshot them afterwards.
            view.deals, view.seen_until = {}, None
            view.snapshot_due = True
            self._count_load("opportunities")

    def _count_load(self, source: str) -> None:
        CACHE_LOADS.labels(source).inc()
        self.loads[source] = self.loads.get(source, 0) + 1

    async def _catch_up(self, pipeline_id: str, view: _View, started: datetime) -> int:
        """Read the deals written since ``view.seen_until`` (all of them without one)."""
        query: Document = {"pipelineId": pipeline_id}
        if view.seen_until is not None:
            # The same as ``$gt: seen_until`` (BSON datetimes are whole milliseconds), but the
            # SecantusDB stand-in seeks straight past the bound instead of scanning every
            # entry equal to it: after a rebuild all deals share one projectedAt, and that
            # scan cost ~1 s per report at 130,000 deals (2 ms with this bound).
            after = view.seen_until
            after = after.replace(microsecond=after.microsecond // 1000 * 1000) + _MILLISECOND
            query["projectedAt"] = {"$gte": after}
        projection = {name: 1 for name in (*CACHED_FIELDS, "projectedAt")}
        latest: datetime | None = None
        read = 0
        async for document in self._opportunities.find(query, projection=projection):
            read += 1
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
        return read

    def _maybe_snapshot(self, pipeline_id: str, view: _View) -> None:
        limits = self._limits
        if not limits.snapshots or view.writing or view.seen_until is None or not view.deals:
            return
        due = view.snapshot_due or (
            view.since_snapshot >= limits.snapshot_changes
            and time.monotonic() - view.snapshot_at >= limits.snapshot_seconds
        )
        if not due:
            return
        # States are replaced, never changed in place: a shallow copy is a consistent
        # picture of the view at ``seen_until`` (deals read later only make it newer).
        deals, watermark = list(view.deals.values()), view.seen_until
        view.writing, view.snapshot_due = True, False
        view.since_snapshot, view.snapshot_at = 0, time.monotonic()
        task = asyncio.create_task(
            self._write_snapshot(pipeline_id, view, deals, watermark, view.generation)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_snapshot(
        self,
        pipeline_id: str,
        view: _View,
        deals: list[DealState],
        watermark: datetime,
        generation: int,
    ) -> None:
        try:
            head = await self._snapshots.write(pipeline_id, deals, watermark, generation)
            if await name_snapshot(self._db, pipeline_id, head):
                CACHE_SNAPSHOTS.inc()
                self.snapshots_written += 1
            await self._snapshots.remove_orphans(pipeline_id, keep=head.id)
        except Exception as exc:  # best effort: the next load reads more from opportunities
            log.warning("snapshot not written", extra={"error": repr(exc)})
        finally:
            view.writing = False

    def _evict(self, keep: str) -> None:
        limits = self._limits
        total = sum(len(view.deals) for view in self._views.values())
        for pipeline_id in list(self._views):  # least recently used first
            if len(self._views) <= limits.max_pipelines and total <= limits.max_deals:
                break
            view = self._views[pipeline_id]
            if pipeline_id == keep or view.lock.locked():
                continue  # in use: a report is reading or loading it
            del self._views[pipeline_id]
            total -= len(view.deals)
            CACHE_EVICTIONS.inc()
            self.evictions += 1
        CACHE_DEALS.set(total)

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
