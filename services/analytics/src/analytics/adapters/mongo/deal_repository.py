"""The worker's deal repository: one document per deal, with optimistic concurrency on ``rev``."""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import suppress
from datetime import datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from analytics.adapters.mongo.collections import (
    OPPORTUNITIES,
    PIPELINES,
    Collection,
    Database,
    Document,
)
from analytics.adapters.mongo.documents import deal_document, deal_from_document, stage_document
from analytics.domain.deal import DealState
from analytics.domain.model import Stage
from analytics.service_layer.ports import ConcurrentUpdate
from crm_common.events import utcnow

log = logging.getLogger(__name__)


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
