"""Latency of ``funnel``, ``forecast(method: MARKOV)`` and ``pipelineAsOf`` through the gateway
over a large event store.

    uv run python benchmarks/analytics_reports.py [--open-deals 100000] [--closed-deals 30000]
                                                  [--open-events 7] [--closed-events 10]
                                                  [--repeat 5]

Defaults: 100,000 open deals x 7 events + 30,000 closed deals x 10 events = 1,000,000 events in
one pipeline. The suite runs as in the tests (fresh SecantusDB, private vhost, every process).
The events are written straight into the analytics event store (bulk inserts: pushing a
million events through the worker would measure the worker, see analytics_worker.py), then
``analytics-rebuild`` folds them into the projections, as after a migration. Each query then
runs ``--repeat`` times through the gateway (the first forecast is cold: it computes the
history's transition statistics, cached until the pipeline changes) and, for comparison, on
the analytics subgraph directly.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from analytics_common import DealEvents, stats_ms, suite, table, token
from pymongo import AsyncMongoClient

BIN = Path(sys.executable).parent
PIPELINE = "bench-pipeline"


async def load(mongodb_url: str, database: str, args: argparse.Namespace) -> tuple[int, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    events = client[database]["events"]
    rng = random.Random(42)
    generator = DealEvents(PIPELINE, rng, datetime.now(UTC) - timedelta(days=420))
    started = time.perf_counter()
    total = 0
    batch: list[dict[str, Any]] = []
    plan = [(args.open_events, False)] * args.open_deals + [
        (args.closed_events, True)
    ] * args.closed_deals
    rng.shuffle(plan)
    pending: list[Any] = []
    for index, (count, close) in enumerate(plan):
        generator.start = datetime.now(UTC) - timedelta(days=400 - rng.random() * 300)
        for event in generator.events(count, close, f"rep-{index % 50}"):
            document = event.model_dump(exclude_none=True)
            document["_id"] = document["id"]
            batch.append(document)
        if len(batch) >= 5000:
            pending.append(events.insert_many(batch, ordered=False))
            total += len(batch)
            batch = []
            if len(pending) >= 4:
                await asyncio.gather(*pending)
                pending = []
    if batch:
        pending.append(events.insert_many(batch, ordered=False))
        total += len(batch)
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
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
    with httpx.Client(timeout=600) as client:
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open-deals", type=int, default=100_000)
    parser.add_argument("--closed-deals", type=int, default=30_000)
    parser.add_argument("--open-events", type=int, default=7)
    parser.add_argument("--closed-events", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with suite("analytics-reports") as running:
        database = running.env()["ANALYTICS_DATABASE"]
        total, load_seconds = asyncio.run(load(running.mongodb_url, database, args))
        print(f"loaded {total:,} events in {load_seconds:.0f} s", flush=True)
        started = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "analytics-rebuild")], env=running.env(), capture_output=True, text=True
        )
        rebuild_seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stdout + done.stderr)
        print(done.stdout.strip(), f"({rebuild_seconds:.0f} s)", flush=True)
        # The API's first report of the pipeline loads its deals into memory (and the first
        # forecast computes the history's statistics): timed once, on the subgraph directly,
        # because it can take longer than the gateway's subgraph timeout on the stand-in.
        cold: list[list[Any]] = []
        for name in ("pipelineAsOf", "forecast(method: MARKOV)"):
            query, extra = QUERIES[name]
            samples, _ = timed(running.subgraph_url("analytics"), query, extra, 1)
            cold.append([f"{name} (cold)", "subgraph", f"{samples[0] * 1000:.0f}"])
        print(table("cold: first request after the load", ["query", "via", "ms"], cold))
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
        print()
        print(
            table(
                f"analytics reports over {total:,} events, {args.open_deals:,} open and "
                f"{args.closed_deals:,} closed deals (one pipeline), {args.repeat} runs each, ms",
                ["query", "via", "first", "min", "median", "max"],
                rows,
            )
        )
        print(
            f"\nrebuild of the projections: {rebuild_seconds:.0f} s;"
            f" event load {load_seconds:.0f} s"
        )
        for line in checks:
            print(line)


if __name__ == "__main__":
    main()
