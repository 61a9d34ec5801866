"""``analytics-rebuild``: replay the event store into fresh projections.

    analytics-rebuild            # rebuild, then swap the fresh collections in
    analytics-rebuild --verify   # rebuild aside, compare with the live projections, exit 1 if
                                 # they differ (and say which opportunities), swap nothing

The stored events are read ordered by opportunity, then ``sequence``, and folded with the
worker's own rules (``analytics.service_layer.services.replay_states``) into the collections
``rebuild_opportunities`` / ``rebuild_pipelines``, which then replace ``opportunities`` /
``pipelines`` (rename with drop-target). Stop the worker while rebuilding for real (events it
applies during the rebuild would be lost from the projections until the next rebuild); the
events themselves stay in the queue meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from pymongo import AsyncMongoClient

from analytics.adapters.mongo import (
    OPPORTUNITIES,
    PIPELINES,
    Database,
    MongoDealRepository,
    MongoEventStore,
    deal_document,
    drop_projections,
    ensure_indexes,
    stage_document,
)
from analytics.domain.deal import DealState
from analytics.entrypoints.messages import stored_change
from analytics.service_layer.services import Rebuilt, replay_states
from analytics.settings import Settings
from crm_common.logging import configure_logging
from crm_common.mongo import connect_mongo

log = logging.getLogger(__name__)

PREFIX = "rebuild_"
BATCH = 1000
#: Bookkeeping that legitimately differs between a live and a rebuilt state.
IGNORED = {"rev", "heldSince", "held", "projectedAt"}


async def rebuild_into(db: Database, prefix: str = PREFIX) -> Rebuilt:
    """Fold every stored event into fresh ``<prefix>`` collections."""
    await drop_projections(db, prefix)
    repository = MongoDealRepository(db, prefix)
    summary = Rebuilt()
    batch: list[DealState] = []
    async for state in replay_states(MongoEventStore(db).replay(), stored_change, summary):
        batch.append(state)
        summary.deals += 1
        if len(batch) >= BATCH:
            await repository.insert_many(batch)
            batch = []
    await repository.insert_many(batch)
    pipelines = db[prefix + PIPELINES]
    documents = [
        {
            "_id": pipeline_id,
            "stages": [stage_document(s) for s in stages],
            "stagesAsOf": as_of,
            "changes": summary.changes.get(pipeline_id, 0),
        }
        for pipeline_id, (stages, as_of) in summary.pipelines.items()
    ]
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
        summary = await rebuild_into(db)
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
    sys.exit(asyncio.run(main(settings, args.verify)))
