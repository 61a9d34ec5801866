"""``analytics-rebuild``: replay the event store into fresh projections.

    analytics-rebuild            # rebuild, then swap the fresh collections in
    analytics-rebuild --verify   # rebuild aside, compare with the live projections, exit 1 if
                                 # they differ (and say which opportunities), swap nothing

The stored events are read ordered by opportunity, then ``sequence``, and folded with the
worker's own rules (``analytics.service_layer.services.replay_states``) into the collections
``rebuild_opportunities`` / ``rebuild_pipelines``, which then replace ``opportunities`` /
``pipelines`` (rename with drop-target). The swapped-in pipelines carry a new projections
``generation`` and a snapshot of their deals: running API processes notice the generation at
their next report and reload the pipeline (no restart needed). Stop the worker while
rebuilding for real (events it applies during the rebuild would be lost from the projections
until the next rebuild); the events themselves stay in the queue meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from analytics.adapters.mongo.collections import (
    OPPORTUNITIES,
    PIPELINES,
    Database,
    drop_projections,
    ensure_indexes,
    next_generation,
)
from analytics.adapters.mongo.deal_repository import MongoDealRepository
from analytics.adapters.mongo.documents import deal_document, stage_document
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.adapters.snapshot import SnapshotStore, SnapshotWriter
from analytics.domain.deal import DealState
from analytics.entrypoints.messages import stored_change
from analytics.service_layer.services import Rebuilt, replay_states
from analytics.settings import Settings
from crm_common.events import utcnow
from crm_common.logging import configure_logging
from crm_common.mongo import connect_mongo

log = logging.getLogger(__name__)

PREFIX = "rebuild_"
BATCH = 1000
#: Bookkeeping that legitimately differs between a live and a rebuilt state.
IGNORED = {"rev", "heldSince", "held", "projectedAt"}


async def rebuild_into(
    db: Database, prefix: str = PREFIX, generation: int | None = None
) -> Rebuilt:
    """Fold every stored event into fresh ``<prefix>`` collections (and, with a
    ``generation``, snapshots of the API's deal cache for them: see ``project``)."""
    return await project(db, MongoEventStore(db).replay(), prefix, generation)


async def project(
    db: Database,
    envelopes: AsyncIterator[Mapping[str, Any]],
    prefix: str = PREFIX,
    generation: int | None = None,
) -> Rebuilt:
    """Fold ``envelopes`` (ordered by subject, then sequence) with the worker's rules into
    fresh ``<prefix>opportunities`` / ``<prefix>pipelines``.

    Every state is written with one ``projectedAt``; with a ``generation``, the pipelines'
    documents carry it, and each pipeline gets a snapshot of its deals (watermark: that
    ``projectedAt``), so that API processes reload from a few large documents instead of
    one per deal. Also used by the benchmarks to load a large history quickly.
    """
    await drop_projections(db, prefix)
    repository = MongoDealRepository(db, prefix)
    snapshots = SnapshotStore(db)
    writers: dict[str, SnapshotWriter] = {}
    projected = utcnow()
    summary = Rebuilt()
    batch: list[DealState] = []
    async for state in replay_states(envelopes, stored_change, summary):
        batch.append(state)
        summary.deals += 1
        if len(batch) >= BATCH:
            await repository.insert_many(batch, projected)
            batch = []
        # The API caches deals with a status only (the others hold nothing but held events).
        if generation is not None and state.pipeline_id is not None and state.status is not None:
            writer = writers.get(state.pipeline_id)
            if writer is None:
                writer = writers[state.pipeline_id] = snapshots.writer(state.pipeline_id)
            await writer.add(state)
    await repository.insert_many(batch, projected)
    pipelines = db[prefix + PIPELINES]
    documents: list[dict[str, Any]] = []
    for pipeline_id, (stages, as_of) in summary.pipelines.items():
        document: dict[str, Any] = {
            "_id": pipeline_id,
            "stages": [stage_document(s) for s in stages],
            "stagesAsOf": as_of,
            "changes": summary.changes.get(pipeline_id, 0),
        }
        if generation is not None:
            document["generation"] = generation
            writer = writers.get(pipeline_id) or snapshots.writer(pipeline_id)
            head = await writer.finish(projected, generation)
            document["snapshot"] = head.document(utcnow())
        documents.append(document)
    if documents:
        await pipelines.insert_many(documents)
    await ensure_indexes(db, prefix)
    return summary


async def swap_in(db: Database, prefix: str = PREFIX) -> None:
    for name in (OPPORTUNITIES, PIPELINES):
        if prefix + name in await db.list_collection_names():
            await db[prefix + name].rename(name, dropTarget=True)
    await ensure_indexes(db)


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in IGNORED}


async def differences(db: Database, prefix: str = PREFIX, limit: int = 20) -> list[str]:
    """Opportunities whose live projection differs from the rebuilt one."""
    found: list[str] = []
    live = {d["_id"]: comparable(d) async for d in db[OPPORTUNITIES].find({})}
    async for rebuilt in db[prefix + OPPORTUNITIES].find({}):
        if live.pop(rebuilt["_id"], None) != comparable(rebuilt):
            found.append(str(rebuilt["_id"]))
    found.extend(str(key) for key in live)
    return found[:limit]


def rebuilt_document(state: DealState) -> dict[str, Any]:
    return comparable(deal_document(state, 1))


async def main(settings: Settings, verify: bool) -> int:
    mongo: AsyncMongoClient[dict[str, Any]] = connect_mongo(
        settings.mongodb_url, "analytics-rebuild"
    )
    try:
        db = mongo[settings.database]
        # A real rebuild takes a new generation: API processes notice it and reload.
        summary = await rebuild_into(db, generation=None if verify else await next_generation(db))
        print(
            f"rebuilt {summary.deals} opportunities of {len(summary.pipelines)} pipelines "
            f"from {summary.events} events"
        )
        if verify:
            diff = await differences(db)
            await drop_projections(db, PREFIX)
            if diff:
                print(f"live projections differ from the rebuild: {', '.join(diff)}")
                return 1
            print("live projections equal the rebuild")
            return 0
        await swap_in(db)
        print("projections replaced")
        return 0
    finally:
        await mongo.close()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--verify", action="store_true", help="compare, do not replace")
    args = parser.parse_args()
    settings = Settings()
    configure_logging("analytics-rebuild", settings.log_level)
    try:
        sys.exit(asyncio.run(main(settings, args.verify)))
    except PyMongoError as exc:
        # The usual cause is a MONGODB_URL that names no server (`make demo` prints the URL
        # of its stand-in): say so in one line rather than with a driver traceback.
        print(
            f"analytics-rebuild: MongoDB at {settings.mongodb_url} did not answer"
            f" ({type(exc).__name__}); set MONGODB_URL (and ANALYTICS_DATABASE) to the"
            " suite's database",
            file=sys.stderr,
        )
        sys.exit(2)
