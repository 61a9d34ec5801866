"""The reports' read model on ``opportunities`` (one document per deal, never the events)."""

from __future__ import annotations

import logging
from datetime import datetime

from analytics.adapters.mongo.collections import (
    OPPORTUNITIES,
    PIPELINES,
    Collection,
    Database,
    Document,
)
from analytics.adapters.mongo.documents import deal_from_document, stage_from_document
from analytics.domain.deal import DealState
from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, Stage

log = logging.getLogger(__name__)


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
