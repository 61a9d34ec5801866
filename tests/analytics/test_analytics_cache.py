"""The API's deal cache at scale: snapshot + catch-up, eviction, rebuild generations.

The cache (``CachedReadModel``) must give exactly the reports a direct read of MongoDB gives
(``MongoReadModel``), whatever path filled it: a snapshot of few large documents plus the
deals written since its watermark (a restart), a reload after eviction, a reload after
``analytics-rebuild`` swapped new projections in. The adapter tests run on the session's
MongoDB (SecantusDB stand-in) in a database of their own; the last test restarts the real
``analytics-api`` process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import bson
import handbook as hb
import httpx
import pytest
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from story import Story
from test_analytics_worker_e2e import ALL_REPORTS, uninterrupted

from analytics.adapters import snapshot
from analytics.adapters.deal_cache import CACHED_FIELDS, CachedReadModel, CacheLimits
from analytics.adapters.memory import MemoryDeals, MemoryEventStore
from analytics.adapters.mongo.collections import ensure_indexes, next_generation
from analytics.adapters.mongo.deal_repository import MongoDealRepository
from analytics.adapters.mongo.documents import deal_document, deal_from_document
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.adapters.mongo.read_model import MongoReadModel
from analytics.adapters.snapshot import decode, encode
from analytics.domain.deal import DealState, Stay
from analytics.domain.model import ConversionMethod, DealStatus, ForecastMethod, StageKind
from analytics.entrypoints.messages import stored_change, to_change
from analytics.entrypoints.rebuild import rebuild_into, swap_in
from analytics.service_layer import services
from analytics.service_layer.ports import ReadModel
from crm_common.events import CloudEvent, utcnow
from crm_common.identity import Identity

ADMIN = Identity(user_id="admin-1", name="admin", roles=frozenset({"admin"}))
NOW = datetime.now(UTC)


def as_stored(state: DealState) -> DealState:
    """What the API reads back for ``state``: the ``CACHED_FIELDS`` projection of its
    document, through BSON (millisecond datetimes, Decimal128 amounts)."""
    document = deal_document(state, 1)
    projected = {k: v for k, v in document.items() if k in CACHED_FIELDS or k == "_id"}
    raw = bson.decode(bson.encode(projected), CodecOptions(tz_aware=True))
    return deal_from_document(raw)


async def handbook_states() -> list[DealState]:
    story, _ = hb.build()
    store, deals = MemoryEventStore(), MemoryDeals()
    for event in story.events:
        await services.record_event(
            event.id,
            event.model_dump(exclude_none=True),
            to_change(event),
            events=store,
            deals=deals,
            parse=stored_change,
            now=utcnow(),
        )
    return [state for state, _ in deals.states.values()]


async def test_the_snapshot_codec_gives_what_a_read_of_the_collection_gives() -> None:
    states = await handbook_states()
    odd = DealState(
        opportunity_id="odd",
        status=DealStatus.OPEN,
        # Microseconds: BSON keeps milliseconds (floored), so must the snapshot.
        created_at=datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC),
        currency="EUR",  # no amount: not stored (as in the document)
        stays=[
            Stay(
                "s",
                "",
                1,
                StageKind.OPEN,
                datetime(1999, 12, 31, tzinfo=UTC),
                None,
                None,
                Decimal("0.10"),
                "USD",
            )
        ],
    )
    states.append(odd)
    expected = {state.opportunity_id: as_stored(state) for state in states}
    decoded = {state.opportunity_id: state for state in decode(encode(states))}
    assert decoded == expected
    assert decoded["odd"].created_at == datetime(2026, 3, 1, 12, 0, 0, 999_000, tzinfo=UTC)
    assert decoded["odd"].currency is None
    # Shared values are decoded once: one Stage object per stage of the chunk.
    stages = {id(s.stage) for s in decoded.values() if s.stage is not None}
    assert len(stages) == len({s.stage.id for s in decoded.values() if s.stage is not None})


# -- on MongoDB -------------------------------------------------------------------------------


@pytest.fixture
async def db(mongodb_url: str) -> AsyncIterator[Any]:
    url = mongodb_url
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    name = f"analytics_cache_{uuid.uuid4().hex[:8]}"
    try:
        database = client[name]
        await ensure_indexes(database)
        yield database
    finally:
        await client.drop_database(name)
        await client.close()


async def deliver(db: Any, events: list[CloudEvent]) -> None:
    """Events as the worker records them (one batch: one bulk write of the states)."""
    await services.record_batch(
        [services.Incoming(e.id, e.model_dump(exclude_none=True), to_change(e)) for e in events],
        events=MongoEventStore(db),
        deals=MongoDealRepository(db),
        parse=stored_change,
        now=utcnow(),
    )


async def reports(pipeline_id: str, read_model: ReadModel) -> list[Any]:
    """Every report the cache serves (fixed ``now``: comparable between read models)."""
    today = NOW.date()
    out: list[Any] = [
        await services.funnel_report(
            pipeline_id,
            viewer=ADMIN,
            method=ConversionMethod.COHORT,
            created_from=None,
            created_to=None,
            owner_id=None,
            read_model=read_model,
        ),
        await services.sales_performance(
            pipeline_id, viewer=ADMIN, start=None, end=None, owner_id=None, read_model=read_model
        ),
        await services.stage_durations(
            pipeline_id,
            viewer=ADMIN,
            start=None,
            end=None,
            owner_id=None,
            read_model=read_model,
            now=NOW,
        ),
        await services.pipeline_as_of(
            pipeline_id, viewer=ADMIN, at=hb.d(3.5), owner_id=None, read_model=read_model
        ),
        await services.pipeline_as_of(
            pipeline_id, viewer=ADMIN, at=NOW, owner_id=None, read_model=read_model
        ),
    ]
    for method in ForecastMethod:
        out.append(
            await services.forecast(
                pipeline_id,
                viewer=ADMIN,
                period_start=today,
                period_end=today + timedelta(days=90),
                method=method,
                owner_id=None,
                read_model=read_model,
                cache=services.HistoryCache(),
                now=NOW,
            )
        )
    return out


def more_changes(story: Story, ids: dict[str, str]) -> list[CloudEvent]:
    """After the snapshot: moves, a win, a loss, a transfer and new deals."""
    before = len(story.events)
    story.move(ids["D5"], "Won", hb.d(20))
    story.move(ids["D6"], "B", hb.d(21))
    story.move(ids["D7"], "Lost", hb.d(22))
    story.update(ids["D6"], hb.d(23), owner="rep-a")
    story.create(hb.d(24), stage="A", owner="rep-c", amount="900.00")
    fresh = story.create(hb.d(25), stage="B", owner="rep-c", amount="800.00")
    story.move(fresh, "Won", hb.d(26))
    return story.events[before:]


async def test_a_restart_loads_the_snapshot_then_catches_up_exactly(db: Any) -> None:
    story, ids = hb.build()
    await deliver(db, story.events)
    first = CachedReadModel(db)
    direct = MongoReadModel(db)
    assert await reports(story.pipeline_id, first) == await reports(story.pipeline_id, direct)
    assert first.loads == {"opportunities": 1}
    await first.close(wait=True)  # the snapshot written after that full load
    # Changes after the snapshot (its watermark lies before them), then a "restart".
    await deliver(db, more_changes(story, ids))
    restarted = CachedReadModel(db)
    after = await reports(story.pipeline_id, restarted)
    assert restarted.loads == {"snapshot": 1}
    assert after == await reports(story.pipeline_id, direct)
    # The first read model also sees the changes (its usual catch-up).
    assert await reports(story.pipeline_id, first) == after


async def test_a_snapshot_of_several_chunks_and_a_newer_one(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "CHUNK_DEALS", 3)
    story, ids = hb.build()
    await deliver(db, story.events)
    limits = CacheLimits(snapshot_changes=1, snapshot_seconds=0)
    first = CachedReadModel(db, limits)
    await reports(story.pipeline_id, first)
    await first.close(wait=True)
    await deliver(db, more_changes(story, ids))
    # A refresh that read changes writes a newer snapshot (snapshot_changes=1).
    await reports(story.pipeline_id, first)
    await first.close(wait=True)
    assert first.snapshots_written >= 2  # (a refresh re-reads the last SETTLE seconds too)
    head = await db["pipelines"].find_one({"_id": story.pipeline_id})
    assert head["snapshot"]["chunks"] == 3
    assert head["snapshot"]["deals"] == 9
    restarted = CachedReadModel(db)
    assert await reports(story.pipeline_id, restarted) == await reports(
        story.pipeline_id, MongoReadModel(db)
    )
    assert restarted.loads == {"snapshot": 1}


@pytest.mark.parametrize(
    "limits", [CacheLimits(max_pipelines=1), CacheLimits(max_deals=9)], ids=["pipelines", "deals"]
)
async def test_the_least_recently_used_pipeline_is_evicted_and_reloaded_the_same(
    db: Any, limits: CacheLimits
) -> None:
    one, _ = hb.build("one-")
    two, two_ids = hb.build("two-")
    await deliver(db, one.events + two.events)
    direct = MongoReadModel(db)
    cached = CachedReadModel(db, limits)
    expected_one = await reports(one.pipeline_id, direct)
    assert await reports(one.pipeline_id, cached) == expected_one
    assert cached.cached_pipelines == [one.pipeline_id]
    assert await reports(two.pipeline_id, cached) == await reports(two.pipeline_id, direct)
    assert cached.cached_pipelines == [two.pipeline_id]  # 7 + 7 deals > 9, or 2 > 1 pipelines
    await deliver(db, more_changes(two, two_ids))
    assert await reports(one.pipeline_id, cached) == expected_one  # reloaded on demand
    assert cached.cached_pipelines == [one.pipeline_id]
    assert await reports(two.pipeline_id, cached) == await reports(two.pipeline_id, direct)
    assert cached.evictions == 3
    assert cached.loads["opportunities"] + cached.loads.get("snapshot", 0) == 4


async def test_after_a_rebuild_the_cache_reloads_the_new_generation(db: Any) -> None:
    story, _ = hb.build()
    await deliver(db, story.events)
    cached = CachedReadModel(db)
    direct = MongoReadModel(db)
    await reports(story.pipeline_id, cached)
    # A projection that the events do not back (what a rebuild exists to repair): the cache
    # reads it like any write, and nothing but a rebuild removes it.
    bogus = DealState(
        "bogus", pipeline_id=story.pipeline_id, status=DealStatus.OPEN, created_at=hb.d(1)
    )
    await MongoDealRepository(db).save(bogus, None)
    with_bogus = await reports(story.pipeline_id, cached)
    assert with_bogus == await reports(story.pipeline_id, direct)
    await rebuild_into(db, generation=await next_generation(db))
    await swap_in(db)
    after = await reports(story.pipeline_id, cached)
    assert after == await reports(story.pipeline_id, direct)
    assert after != with_bogus
    assert cached.generation_reloads == 1
    assert cached.loads == {"opportunities": 1, "snapshot": 1}  # the rebuild's snapshot


# -- the real process -------------------------------------------------------------------------


async def ready(client: httpx.AsyncClient, api: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert api.running, api.log_tail()
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    pytest.fail(f"the API is not ready after its restart:\n{api.log_tail()}")


async def test_restarting_the_api_gives_the_same_reports(
    api: Any,
    worker: Any,
    publisher: Any,
    run_config: Any,
    mongo_db: Any,
    eventually: Any,
) -> None:
    story, ids = hb.build()
    client = httpx.AsyncClient(
        base_url=run_config.api_url,
        headers={"Authorization": f"Bearer {run_config.token(['admin'])}"},
        timeout=30,
    )
    variables = {"p": story.pipeline_id}

    async def all_reports() -> Any:
        response = await client.post(
            "/graphql", json={"query": ALL_REPORTS, "variables": variables}
        )
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def snapshot_named() -> Any:
        return await mongo_db["pipelines"].find_one(
            {"_id": story.pipeline_id, "snapshot": {"$exists": True}}
        )

    try:
        for event in story.events:
            await publisher.publish(event)
        expected = await uninterrupted(story.events, ALL_REPORTS, variables)
        await eventually(all_reports, lambda r: r == expected, what="reports of the handbook")
        # The API snapshots the pipeline after loading it from the collection.
        await eventually(snapshot_named, lambda d: d is not None, what="a snapshot")
        changes = more_changes(story, ids)
        for event in changes:
            await publisher.publish(event)
        expected = await uninterrupted(story.events, ALL_REPORTS, variables)
        await eventually(all_reports, lambda r: r == expected, what="reports after changes")
        api.stop()
        api.start()
        await ready(client, api)
        assert await all_reports() == expected
        # Loaded from the snapshot (warm-up or on demand), not from the deal documents.
        metrics = (await client.get("/metrics")).text
        assert 'crm_analytics_cache_loads_total{source="snapshot"}' in metrics
        assert 'source="opportunities"' not in metrics
    finally:
        if not api.running:
            api.start()
        await ready(client, api)
        await client.aclose()
