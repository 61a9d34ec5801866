"""The API's in-memory deal cache over the read model."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge

from analytics.adapters.mongo.collections import (
    OPPORTUNITIES,
    PIPELINES,
    Collection,
    Database,
    Document,
)
from analytics.adapters.mongo.documents import deal_from_document
from analytics.adapters.mongo.read_model import MongoReadModel
from analytics.adapters.snapshot import SnapshotHead, SnapshotStore
from analytics.domain.deal import DealState
from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, Stage
from crm_common.events import utcnow

log = logging.getLogger(__name__)

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
        "source",
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
