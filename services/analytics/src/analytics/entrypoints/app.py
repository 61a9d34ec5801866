"""Composition root of ``analytics-api`` (the shell is ``crm_common.shell``'s).

At start it opens MongoDB and RabbitMQ (and the live feed's queue) and warms the deal cache
(``CachedReadModel``) from the pipelines' snapshots in the background. ``/graphql`` also
serves subscriptions over WebSocket (graphql-transport-ws), authenticated by the
``connection_init`` payload.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.applications import Starlette

from analytics.adapters.deal_cache import CachedReadModel, CacheLimits
from analytics.adapters.mongo.collections import ensure_indexes
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.adapters.mongo.reporting import MongoExchangeRates, MongoReporting
from analytics.adapters.mongo.webhooks import MongoWebhooks
from analytics.adapters.webhook_sender import AddressCheck
from analytics.entrypoints.context import Context, Resources
from analytics.entrypoints.live import LiveFeed
from analytics.entrypoints.schema import schema
from analytics.service_layer.services import HistoryCache
from analytics.settings import Settings
from crm_common.identity import Identity
from crm_common.shell import Lifetime, Readiness, create_service_app

log = logging.getLogger(__name__)


def limits(settings: Settings) -> CacheLimits:
    return CacheLimits(
        max_pipelines=settings.cache_max_pipelines,
        max_deals=settings.cache_max_deals,
        snapshots=settings.cache_snapshots,
        snapshot_changes=settings.cache_snapshot_changes,
        snapshot_seconds=settings.cache_snapshot_seconds,
    )


async def warm(read_model: CachedReadModel, pipelines: int) -> None:
    """Load the largest pipelines' deals in the background at start (from their snapshots),
    so that the first reports after a restart do not wait for it; a report that comes first
    waits for its pipeline's load, never for the others."""
    started = time.perf_counter()
    try:
        warmed = await read_model.warm(pipelines)
    except Exception as exc:  # the cache then loads on demand, as without warming
        log.warning("warming the deal cache failed", extra={"error": repr(exc)})
        return
    log.info(
        "deal cache warmed",
        extra={"pipelines": warmed, "seconds": round(time.perf_counter() - started, 2)},
    )


def create_app(settings: Settings) -> Starlette:
    async def open_resources(lifetime: Lifetime) -> Resources:
        mongo = lifetime.mongo(settings.mongodb_url)
        db = mongo[settings.database]
        await ensure_indexes(db)
        connection = await lifetime.amqp(settings.amqp_url)
        live = LiveFeed(connection)
        lifetime.on_close("live feed", live.close)
        read_model = CachedReadModel(db, limits(settings))
        lifetime.on_close("read model", read_model.close)
        await live.start()
        if settings.cache_warm_pipelines > 0:
            lifetime.run(warm(read_model, settings.cache_warm_pipelines), "cache-warming")
        return Resources(
            settings=settings,
            mongo=mongo,
            amqp=connection,
            read_model=read_model,
            events=MongoEventStore(db),
            history=HistoryCache(),
            live=live,
            rates=MongoExchangeRates(db),
            reporting=MongoReporting(db),
            webhooks=MongoWebhooks(db),
            webhook_address_check=AddressCheck(settings.webhook_hosts),
        )

    def context(resources: Resources, identity: Identity | None, _: Any, __: Any) -> Context:
        return Context(resources=resources, identity_or_none=identity)

    return create_service_app(
        name="analytics-api",
        settings=settings,
        schema=schema,
        open=open_resources,
        readiness=lambda resources: Readiness(resources.mongo, resources.amqp),
        context=context,
        subscriptions=True,
    )
