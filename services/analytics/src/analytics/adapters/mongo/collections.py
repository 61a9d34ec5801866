"""The collections of the ``analytics`` database, their indexes and the projections' generations."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from analytics.adapters.snapshot import ensure_snapshot_indexes

log = logging.getLogger(__name__)


Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

EVENTS = "events"
OPPORTUNITIES = "opportunities"
PIPELINES = "pipelines"
WEBHOOKS = "webhooks"
DELIVERIES = "webhook_deliveries"
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
        # The audit trail by actor, by type (also leads by source) and by subject, newest
        # first (analytics.adapters.mongo.reporting).
        await db[EVENTS].create_index([("actorid", 1), ("time", -1), ("_id", -1)])
        await db[EVENTS].create_index([("type", 1), ("time", -1)])
        await db[EVENTS].create_index([("subject", 1), ("time", -1)])
        await ensure_webhook_indexes(db)


async def ensure_webhook_indexes(db: Database) -> None:
    deliveries = db[DELIVERIES]
    # One delivery per webhook and event, however often the event is redelivered.
    await deliveries.create_index([("webhookId", 1), ("eventId", 1)], unique=True)
    # The dispatcher's scan: pending deliveries in the order they were created.
    await deliveries.create_index(
        [("status", 1), ("seq", 1)], partialFilterExpression={"status": "PENDING"}
    )
    await deliveries.create_index([("webhookId", 1), ("seq", -1)])


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
