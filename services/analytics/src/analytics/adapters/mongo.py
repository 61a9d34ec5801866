"""MongoDB adapters: the event store, the opportunity projection and the funnel read model.

Collections of the ``analytics`` database:

``events``
    Every event received, ``_id`` = CloudEvent id, envelope as received plus ``receivedAt``.
    It is the event store and, by its ids, the record of processed events.
``opportunities``
    One document per opportunity (``_id`` = opportunity id)::

        {pipelineId, ownerId, customerId, title, amount, status, stageId, stageOrder,
         stageKind, updatedAt, lastSequence,          # latest values, by event sequence
         maxOpenOrderReached, reachedWon, createdAt}  # merged facts ($max / $min)

    The merged facts are updated with ``$max`` / ``$min``: commutative and idempotent, so the
    order and the number of deliveries do not matter. The latest values are set only by an
    event whose ``sequence`` is greater than ``lastSequence`` (an older or repeated event
    leaves them alone). ``createdAt`` is the earliest ``changedAt`` seen, which is the
    creation time once the ``created`` event has arrived.
``pipelines``
    One document per pipeline: the latest stage list seen in events
    (``stages``, ``stagesAsOf`` = the ``changedAt`` of the event that carried it).

Funnel queries group ``opportunities`` by (status, maxOpenOrderReached, reachedWon): no event
is read to answer a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from bson.decimal128 import Decimal128
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from analytics.domain.funnel import DealProgress
from analytics.domain.model import DealStatus, OpportunityChange, Stage, StageKind
from crm_common.events import utcnow

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

EVENTS = "events"
OPPORTUNITIES = "opportunities"
PIPELINES = "pipelines"


async def ensure_indexes(db: Database) -> None:
    """Create the indexes the queries rely on (idempotent; run by every process at start)."""
    await db[OPPORTUNITIES].create_index([("pipelineId", 1), ("createdAt", 1)])
    await db[OPPORTUNITIES].create_index([("pipelineId", 1), ("ownerId", 1), ("createdAt", 1)])
    await db[EVENTS].create_index([("subject", 1), ("sequence", 1)])


def _stage_document(stage: Stage) -> Document:
    return {
        "id": stage.id,
        "name": stage.name,
        "order": stage.order,
        "kind": stage.kind.value,
        "probability": stage.probability,
    }


def _stage_from_document(document: Mapping[str, Any]) -> Stage:
    return Stage(
        id=str(document["id"]),
        name=str(document["name"]),
        order=int(document["order"]),
        kind=StageKind(document["kind"]),
        probability=float(document.get("probability", 0.0)),
    )


class MongoEventStore:
    def __init__(self, db: Database) -> None:
        self._events: Collection = db[EVENTS]

    async def contains(self, event_id: str) -> bool:
        return await self._events.find_one({"_id": event_id}, projection={"_id": 1}) is not None

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> None:
        document = {**envelope, "_id": event_id, "receivedAt": utcnow()}
        with suppress(DuplicateKeyError):  # recorded by an earlier delivery: nothing to do
            await self._events.insert_one(document)


class MongoOpportunityProjection:
    def __init__(self, db: Database) -> None:
        self._opportunities: Collection = db[OPPORTUNITIES]
        self._pipelines: Collection = db[PIPELINES]

    async def apply(self, change: OpportunityChange) -> None:
        await self._merge_facts(change)
        await self._set_latest(change)
        if change.pipeline_id is not None and change.stages is not None:
            await self._set_stages(change.pipeline_id, change.stages, change.changed_at)

    async def _merge_facts(self, change: OpportunityChange) -> None:
        maxima: Document = {"reachedWon": change.reached_won}
        if change.reached_open_order is not None:
            maxima["maxOpenOrderReached"] = change.reached_open_order
        await self._opportunities.update_one(
            {"_id": change.opportunity_id},
            {
                "$setOnInsert": {"lastSequence": 0},
                "$min": {"createdAt": change.changed_at},
                "$max": maxima,
            },
            upsert=True,
        )

    async def _set_latest(self, change: OpportunityChange) -> None:
        latest: Document = {"lastSequence": change.sequence, "updatedAt": change.changed_at}
        optional: dict[str, object] = {
            "pipelineId": change.pipeline_id,
            "ownerId": change.owner_id,
            "customerId": change.customer_id,
            "title": change.title,
            "status": change.status.value if change.status is not None else None,
        }
        latest.update({key: value for key, value in optional.items() if value is not None})
        if change.amount is not None:
            latest["amount"] = {
                "amount": Decimal128(change.amount.amount),
                "currency": change.amount.currency,
            }
        if change.to_stage is not None:
            latest["stageId"] = change.to_stage.id
            latest["stageOrder"] = change.to_stage.order
            latest["stageKind"] = change.to_stage.kind.value
        # The document exists (``_merge_facts`` upserted it): no upsert here, so a stale
        # event simply matches nothing.
        await self._opportunities.update_one(
            {"_id": change.opportunity_id, "lastSequence": {"$lt": change.sequence}},
            {"$set": latest},
        )

    async def _set_stages(
        self, pipeline_id: str, stages: tuple[Stage, ...], as_of: datetime
    ) -> None:
        newer = {"_id": pipeline_id, "stagesAsOf": {"$lt": as_of}}
        update = {"$set": {"stages": [_stage_document(s) for s in stages], "stagesAsOf": as_of}}
        try:
            await self._pipelines.update_one(newer, update, upsert=True)
        except DuplicateKeyError:
            # The pipeline exists with a stage list at least as recent, or a concurrent
            # handler inserted it first: update only if ours is newer.
            await self._pipelines.update_one(newer, update)


class MongoFunnelReadModel:
    def __init__(self, db: Database) -> None:
        self._opportunities: Collection = db[OPPORTUNITIES]
        self._pipelines: Collection = db[PIPELINES]

    async def stages(self, pipeline_id: str) -> list[Stage] | None:
        document = await self._pipelines.find_one({"_id": pipeline_id})
        if document is None:
            return None
        return [_stage_from_document(stage) for stage in document.get("stages", [])]

    async def cohort(
        self,
        pipeline_id: str,
        *,
        created_from: datetime | None,
        created_to: datetime | None,
        owner_id: str | None,
    ) -> list[DealProgress]:
        match: Document = {"pipelineId": pipeline_id}
        created: Document = {}
        if created_from is not None:
            created["$gte"] = created_from
        if created_to is not None:
            created["$lt"] = created_to
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
                continue  # only events without a status seen so far: not yet a deal we know
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
