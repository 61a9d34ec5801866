"""Latency of ``funnel``, ``forecast(method: MARKOV)`` and ``pipelineAsOf`` through the gateway
over a large event store, the first report after a restart of the API, and the API's memory.

    uv run python benchmarks/analytics_reports.py [--open-deals 100000] [--closed-deals 30000]
                                                  [--open-events 7] [--closed-events 10]
                                                  [--repeat 10] [--cold-without-snapshot]

Defaults: 100,000 open deals x 7 events + 30,000 closed deals x 10 events = 1,000,000 events in
one pipeline. The suite runs as in the tests (fresh SecantusDB, private vhost, every process).

Loading: pushing a million events through RabbitMQ and the worker would measure the worker
(see analytics_worker.py). Instead the events are generated here, bulk-inserted into the event
store with the worker's own adapter (``MongoEventStore.append_many``: the documents the worker
writes; its indexes built afterwards) and, in the same pass, folded by the worker's own pure
rules into the projections (``analytics.entrypoints.rebuild.project``: ``replay_states`` then
the same documents as the worker and ``analytics-rebuild``, plus the API's deal-cache
snapshot), as a rebuild would.

Then the analytics API is restarted and timed: to ready, and the first report after the
restart (warm-up from the snapshot in the background; also with warm-up off, the snapshot read
on demand; and, with ``--cold-without-snapshot``, reading every deal document as before
snapshots existed). Each query then runs ``--repeat`` times through the gateway and on the
analytics subgraph directly (first = cold for that query, then min / median / max of the
others). The API's resident memory (VmRSS, VmHWM) is read from /proc at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from analytics_common import DealEvents, stats_ms, suite, table, token
from pymongo import AsyncMongoClient

from analytics.adapters.mongo.collections import ensure_indexes, next_generation
from analytics.adapters.mongo.event_store import MongoEventStore
from analytics.entrypoints.rebuild import project

PIPELINE = "bench-pipeline"
EVENT_BATCH = 5000
#: Event inserts in flight while the next events are generated and folded.
IN_FLIGHT = 1


async def load(mongodb_url: str, database: str, args: argparse.Namespace) -> tuple[int, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = client[database]
    # Indexes are built after the bulk load (as mongorestore does): on the stand-in, inserting
    # into an indexed collection and then building the index costs 1.5x less than
    # maintaining it document by document. The processes created them at start.
    await db["events"].drop_indexes()
    store = MongoEventStore(db)
    rng = random.Random(42)
    generator = DealEvents(PIPELINE, rng, datetime.now(UTC) - timedelta(days=420))
    plan = [(args.open_events, False)] * args.open_deals + [
        (args.closed_events, True)
    ] * args.closed_deals
    rng.shuffle(plan)
    total = 0
    pending: list[asyncio.Task[None]] = []

    async def envelopes() -> AsyncIterator[Mapping[str, Any]]:
        # One deal's events at a time, in sequence order: what ``project`` folds (ordered by
        # subject, then sequence, as the event store replays them).
        nonlocal total
        batch: list[tuple[str, Mapping[str, Any]]] = []
        for index, (count, close) in enumerate(plan):
            generator.start = datetime.now(UTC) - timedelta(days=400 - rng.random() * 300)
            for event in generator.events(count, close, f"rep-{index % 50}"):
                envelope = event.model_dump(exclude_none=True)
                batch.append((event.id, envelope))
                yield envelope
            if len(batch) >= EVENT_BATCH:
                pending.append(asyncio.create_task(store.append_many(batch)))
                total += len(batch)
                batch = []
                while len(pending) >= IN_FLIGHT:
                    await pending.pop(0)
                await asyncio.sleep(0)  # let the new insert go out while we generate more
            if index % 20000 == 0 and index:
                print(f"  {index:,} deals, {total:,} events generated", flush=True)
        if batch:
            pending.append(asyncio.create_task(store.append_many(batch)))
            total += len(batch)

    started = time.perf_counter()
    summary = await project(db, envelopes(), prefix="", generation=await next_generation(db))
    await asyncio.gather(*pending)
    print(f"  {total:,} events stored; building the event store's indexes", flush=True)
    await ensure_indexes(db)
    elapsed = time.perf_counter() - started
    print(f"  {summary.deals:,} deals projected from {summary.events:,} events", flush=True)
    await client.close()
    return total, elapsed


QUERIES = {
    "funnel (COHORT)": (
        "query($p: ID!) { funnel(pipelineId: $p) { won lost steps { entered advanced } } }",
        {},
    ),
    "forecast(method: MARKOV)": (
        "query($p: ID!, $s: Date!, $e: Date!) { forecast(pipelineId: $p, periodStart: $s,"
        " periodEnd: $e, method: MARKOV) { deals expected { amount currency } } }",
        {"s": "@today", "e": "@today+90"},
    ),
    "pipelineAsOf": (
        "query($p: ID!, $at: DateTime!) { pipelineAsOf(pipelineId: $p, at: $at)"
        " { stageName count amount { amount } } }",
        {"at": "@-120d"},
    ),
}


def variables(extra: dict[str, str]) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    out: dict[str, Any] = {"p": PIPELINE}
    for key, value in extra.items():
        if value == "@today":
            out[key] = today.isoformat()
        elif value == "@today+90":
            out[key] = (today + timedelta(days=90)).isoformat()
        elif value == "@-120d":
            out[key] = (datetime.now(UTC) - timedelta(days=120)).isoformat()
    return out


def timed(url: str, query: str, extra: dict[str, str], repeat: int) -> tuple[list[float], Any]:
    samples: list[float] = []
    data: Any = None
    with httpx.Client(timeout=1800) as client:
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.post(
                url,
                json={"query": query, "variables": variables(extra)},
                headers={"Authorization": f"Bearer {token()}"},
            )
            samples.append(time.perf_counter() - started)
            body = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise SystemExit(f"query failed: {response.status_code} {body}")
            data = body["data"]
    return samples, data


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def restart_api(running: Any, **env: str) -> float:
    """Restart the analytics API (a cold cache); seconds until it is ready."""
    running.stop("analytics")
    started = time.perf_counter()
    running.start("analytics", env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-deals", type=int, default=100_000)
    parser.add_argument("--closed-deals", type=int, default=30_000)
    parser.add_argument("--open-events", type=int, default=7)
    parser.add_argument("--closed-events", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--cold-without-snapshot",
        action="store_true",
        help="also time the first report when every deal document is read (slow)",
    )
    args = parser.parse_args()
    overall = time.perf_counter()
    with suite("analytics-reports") as running:
        database = running.env()["ANALYTICS_DATABASE"]
        total, load_seconds = asyncio.run(load(running.mongodb_url, database, args))
        print(
            f"loaded {total:,} events and their projections in {load_seconds:.0f} s"
            f" ({total / load_seconds:,.0f} events/s)",
            flush=True,
        )
        funnel, funnel_extra = QUERIES["funnel (COHORT)"]
        markov, markov_extra = QUERIES["forecast(method: MARKOV)"]
        cold: list[list[Any]] = []

        def first_report(label: str, via: str = "gateway", **env: str) -> None:
            ready = restart_api(running, **env)
            url = running.gateway_url if via == "gateway" else running.subgraph_url("analytics")
            try:
                samples, _ = timed(url, funnel, funnel_extra, 1)
            except (httpx.HTTPError, SystemExit) as exc:  # keep the figures measured so far
                cold.append([label, via, f"{ready:.1f}", f"failed: {exc!r}"[:60]])
                return
            cold.append([label, via, f"{ready:.1f}", f"{samples[0] * 1000:.0f}"])
            print(f"  {label}: ready {ready:.1f} s, funnel {samples[0]:.2f} s", flush=True)

        def print_cold() -> None:
            print(
                table(
                    "cold: the first report after a restart of the API",
                    ["restart", "via", "ready s", "first funnel ms"],
                    cold,
                ),
                flush=True,
            )

        first_report("snapshot read on demand (warm-up off)", ANALYTICS_CACHE_WARM_PIPELINES="0")
        first_report("snapshot + warm-up at start (default)")
        samples, _ = timed(running.gateway_url, markov, markov_extra, 1)
        cold.append(["then the first MARKOV (history)", "gateway", "", f"{samples[0] * 1000:.0f}"])
        print_cold()
        rows: list[list[Any]] = []
        checks: list[str] = []
        for name, (query, extra) in QUERIES.items():
            for where, url in (
                ("gateway", running.gateway_url),
                ("subgraph", running.subgraph_url("analytics")),
            ):
                samples, data = timed(url, query, extra, args.repeat)
                rows.append(
                    [name, where, f"{samples[0] * 1000:.0f}", *stats_ms(samples[1:] or samples)]
                )
            checks.append(f"{name}: {str(data)[:160]}")
        rss, peak = memory_mib(running.processes["analytics"].pid)
        print()
        print(
            table(
                f"analytics reports over {total:,} events, {args.open_deals:,} open and "
                f"{args.closed_deals:,} closed deals (one pipeline), {args.repeat} runs each, ms"
                " (first: after the cold funnel above; min/median/max: the other runs)",
                ["query", "via", "first", "min", "median", "max"],
                rows,
            )
        )
        print(f"\nanalytics API memory: VmRSS {rss:.0f} MiB, peak VmHWM {peak:.0f} MiB")
        print(f"event store + projections load: {load_seconds:.0f} s")
        for line in checks:
            print(line)
        if args.cold_without_snapshot:
            # Last (it is slow, and the figures above are printed already); via the subgraph:
            # it takes longer than the gateway's subgraph timeout (30 s).
            print()
            first_report(
                "no snapshot: every deal document read",
                "subgraph",
                ANALYTICS_CACHE_SNAPSHOTS="false",
                ANALYTICS_CACHE_WARM_PIPELINES="0",
            )
            print_cold()
    print(f"total run time: {(time.perf_counter() - overall) / 60:.1f} min")


if __name__ == "__main__":
    main()
