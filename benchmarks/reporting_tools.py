"""Reporting tools: ``sourcePerformance`` and ``auditLog(actorId)`` over a large event store,
and webhook throughput and delay.

    uv run python benchmarks/reporting_tools.py [--deals 120000] [--events-per-deal 8]
                                                [--customers 40000] [--repeat 10]
                                                [--webhook-events 2000]

Defaults: 120,000 deals x 8 events + 40,000 customers created = 1,000,000 events. The suite
runs as in the tests (fresh SecantusDB, private vhost, every process). The events are
generated here, bulk-inserted with the worker's own adapter and folded into the projections
with the worker's own rules (``analytics.entrypoints.rebuild.project``), as in
``analytics_reports.py``; every event names its actor (one of 50 reps), every deal its
customer's campaign (one of 20) and channel (one of 5).

Webhooks: a receiver on this machine (aiohttp, answering 204), one webhook for
``customers.customer.bench`` (an event the worker stores and does not fold);
``--webhook-events`` events published to RabbitMQ as fast as the publisher confirms them
(distinct subjects, so the order per subject never holds one back);
throughput = deliveries / (last received - first published); delay = received - published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
from aiohttp import web
from analytics_common import DealEvents, stats_ms, suite, table, token
from pymongo import AsyncMongoClient

from analytics.adapters.mongo.collections import ensure_indexes, next_generation
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.entrypoints.rebuild import project
from crm_common.amqp import EventPublisher
from crm_common.events import iso, new_event

PIPELINE = "bench-pipeline"
BATCH = 5000
CAMPAIGNS = [f"campaign-{n}" for n in range(20)]
CHANNELS = ["web", "events", "referral", "ads", "partner"]
#: A customer event type bound to the worker's queue that no projection folds (stored only),
#: so the webhook figures are the fan-out's and the dispatcher's, not the reports'.
HOOK_TYPE = "customers.customer.bench"


def _source(rng: random.Random) -> dict[str, str]:
    return {"channel": rng.choice(CHANNELS), "campaign": rng.choice(CAMPAIGNS)}


async def load(mongodb_url: str, database: str, args: argparse.Namespace) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = client[database]
    await db["events"].drop_indexes()  # built after the bulk load (see analytics_reports.py)
    store = MongoEventStore(db)
    rng = random.Random(17)
    generator = DealEvents(PIPELINE, rng, datetime.now(UTC) - timedelta(days=400))
    total = 0
    pending: list[asyncio.Task[None]] = []
    batch: list[tuple[str, Mapping[str, Any]]] = []

    async def flush() -> None:
        nonlocal batch, total
        if batch:
            pending.append(asyncio.create_task(store.append_many(batch)))
            total += len(batch)
            batch = []
            while len(pending) > 1:
                await pending.pop(0)

    for index in range(args.customers):
        at = datetime.now(UTC) - timedelta(days=rng.random() * 400)
        event = new_event(
            source="bench",
            type="customers.customer.created",
            subject=str(uuid.uuid4()),
            sequence=1,
            data={
                "customerId": f"c-{index}",
                "name": f"Customer {index}",
                "kind": "COMPANY",
                "ownerId": f"rep-{index % 50}",
                "lifecycle": "LEAD",
                "source": _source(rng),
            },
            actor_id=f"rep-{index % 50}",
            at=at,
        )
        batch.append((event.id, event.model_dump(exclude_none=True)))
        if len(batch) >= BATCH:
            await flush()

    async def envelopes() -> AsyncIterator[Mapping[str, Any]]:
        for index in range(args.deals):
            owner = f"rep-{index % 50}"
            source = _source(rng)
            generator.start = datetime.now(UTC) - timedelta(days=400 - rng.random() * 300)
            for event in generator.events(args.events_per_deal, rng.random() < 0.3, owner):
                envelope = event.model_dump(exclude_none=True)
                envelope["actorid"] = owner
                envelope["data"]["source"] = source
                batch.append((event.id, envelope))
                yield envelope
            if len(batch) >= BATCH:
                await flush()
            if index % 20000 == 0 and index:
                print(f"  {index:,} deals, {total:,} events", flush=True)

    summary = await project(db, envelopes(), prefix="", generation=await next_generation(db))
    await flush()
    await asyncio.gather(*pending)
    print(f"  {total:,} events stored ({summary.deals:,} deals); building indexes", flush=True)
    await ensure_indexes(db)
    await client.close()
    return total


def timed(url: str, query: str, variables: dict[str, Any], repeat: int) -> tuple[list[float], Any]:
    samples: list[float] = []
    data: Any = None
    with httpx.Client(timeout=600) as client:
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.post(
                url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token()}"},
            )
            samples.append(time.perf_counter() - started)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise SystemExit(f"query failed: {response.status_code} {body}")
            data = body["data"]
    return samples, data


QUERIES = {
    "sourcePerformance(CAMPAIGN)": (
        "query($p: ID!){ sourcePerformance(pipelineId: $p, groupBy: CAMPAIGN)"
        "{ source leads opened won lost winRate avgCycleDays } }",
        {"p": PIPELINE},
    ),
    "sourcePerformance(CHANNEL, EUR)": (
        'query($p: ID!){ sourcePerformance(pipelineId: $p, groupBy: CHANNEL, currency: "EUR")'
        "{ source won convertedWonAmount { amount } } }",
        {"p": PIPELINE},
    ),
    "auditLog(actorId) first 50": (
        "query($a: ID!){ auditLog(filter: {actorId: $a}, first: 50)"
        "{ edges { node { type subjectId } } pageInfo { endCursor } } }",
        {"a": "rep-7"},
    ),
    "auditLog(actorId, types) first 50": (
        'query($a: ID!){ auditLog(filter: {actorId: $a, types: ["pipeline.opportunity.won"]},'
        " first: 50){ edges { node { type } } } }",
        {"a": "rep-7"},
    ),
}


async def webhooks(running: Any, count: int) -> list[list[Any]]:
    received: list[float] = []
    delays: list[float] = []
    done = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        now = time.time()
        received.append(now)
        delays.append(now - body["data"]["publishedAt"])
        if len(received) >= count:
            done.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            running.gateway_url,
            json={
                "query": "mutation($i: CreateWebhookInput!){ createWebhook(input: $i){ id } }",
                "variables": {
                    "i": {"url": f"http://127.0.0.1:{port}/hook", "eventTypes": [HOOK_TYPE]}
                },
            },
            headers={"Authorization": f"Bearer {token()}"},
        )
        assert not response.json().get("errors"), response.text
    await asyncio.sleep(6)  # the worker's copy of the webhooks is at most 5 s old
    connection = await aio_pika.connect_robust(running.amqp_url)
    publisher = EventPublisher(connection, instance=running.instance)
    started = time.time()
    try:
        for index in range(count):
            event = new_event(
                source="bench",
                type=HOOK_TYPE,
                subject=f"hook-{index}",
                sequence=1,
                data={"n": index, "publishedAt": time.time()},
            )
            await publisher.publish(event)
    finally:
        await publisher.close()
        await connection.close()
    publish_seconds = time.time() - started
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await runner.cleanup()
    seconds = received[-1] - started
    delays.sort()
    return [
        [
            count,
            f"{publish_seconds:.1f}",
            f"{seconds:.1f}",
            f"{count / seconds:,.0f}",
            f"{statistics.median(delays) * 1000:.0f}",
            f"{delays[int(len(delays) * 0.99) - 1] * 1000:.0f}",
        ]
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=120_000)
    parser.add_argument("--events-per-deal", type=int, default=8)
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--webhook-events", type=int, default=2000)
    args = parser.parse_args()
    with suite("reporting-tools") as running:
        database = running.env()["ANALYTICS_DATABASE"]
        started = time.perf_counter()
        total = asyncio.run(load(running.mongodb_url, database, args))
        print(f"loaded {total:,} events in {time.perf_counter() - started:.0f} s", flush=True)
        running.stop("analytics")
        running.start("analytics")
        rows = []
        for name, (query, variables) in QUERIES.items():
            samples, data = timed(running.gateway_url, query, variables, args.repeat)
            rows.append([name, f"{samples[0] * 1000:.0f}", *stats_ms(samples[1:] or samples)])
            print(f"  {name}: {str(data)[:140]}", flush=True)
        print()
        print(
            table(
                f"reporting over {total:,} events ({iso(datetime.now(UTC))}), through the "
                f"gateway, {args.repeat} runs, ms",
                ["query", "first", "min", "p50", "max"],
                rows,
            )
        )
        if args.webhook_events:
            hook_rows = asyncio.run(webhooks(running, args.webhook_events))
            print()
            print(
                table(
                    "webhooks: deliveries to a local receiver",
                    ["events", "publish s", "all delivered s", "deliveries/s", "p50 ms", "p99 ms"],
                    hook_rows,
                )
            )


if __name__ == "__main__":
    main()
