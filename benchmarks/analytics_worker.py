"""Sustained consumption rate and peak memory of ``analytics-worker`` from a pre-filled queue.

    uv run python benchmarks/analytics_worker.py [--events 200000] [--per-deal 5]

A private RabbitMQ vhost and a fresh SecantusDB (or the MongoDB at MONGODB_URL). The worker's
queue is declared and filled with ``--events`` events first (deals of ``--per-deal`` events
each: ``created`` then stage changes), published straight to the queue; only then is the
worker started. Measured: the time from the first to the last event stored (overall rate),
the rate between 10 % and 90 % of the events (sustained), and the worker's peak resident
memory (VmHWM). The projection is checked at the end (every deal at its last sequence).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aio_pika
from analytics_common import DealEvents, infrastructure, log_dir, start_of_history, table
from pymongo import AsyncMongoClient

from crm_common.amqp import declare_consumer_queue
from crm_common.events import CONTENT_TYPE
from crm_common.topology import ANALYTICS_EVENTS

BIN = Path(sys.executable).parent


async def fill(amqp_url: str, queue: str, events: int, per_deal: int) -> float:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await declare_consumer_queue(channel, queue, list(ANALYTICS_EVENTS.routing_keys))
    generator = DealEvents("bench-pipeline", random.Random(1), start_of_history())
    started = time.perf_counter()
    pending: list[Any] = []
    published = 0
    while published < events:
        for event in generator.events(min(per_deal, events - published), False, "rep-1"):
            message = aio_pika.Message(
                body=event.to_json(),
                content_type=CONTENT_TYPE,
                message_id=event.id,
                type=event.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            pending.append(channel.default_exchange.publish(message, routing_key=queue))
            published += 1
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


def peak_kib(pid: int, key: str = "VmHWM:") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


async def watch(mongodb_url: str, database: str, total: int, worker: Any) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    events = client[database]["events"]
    marks: dict[str, float] = {}
    checkpoints = {"first": 1, "p10": total // 10, "p90": total * 9 // 10, "last": total}
    try:
        while "last" not in marks:
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited ({worker.returncode})")
            count = await events.estimated_document_count()
            now = time.perf_counter()
            for name, threshold in checkpoints.items():
                if name not in marks and count >= threshold:
                    marks[name] = now
            await asyncio.sleep(0.05)
        # The last event is stored before its projection is written: wait for the deals.
        deals = client[database]["opportunities"]
        while await deals.count_documents({"held.0": {"$exists": True}}) > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        marks["done"] = time.perf_counter()
        marks["deals"] = await deals.count_documents({})
    finally:
        await client.close()
    return marks


def run(events: int, per_deal: int) -> None:
    with infrastructure("analytics-worker") as (mongodb_url, amqp_url, instance):
        # The worker's own queue name for this run's instance, filled before it starts.
        queue = ANALYTICS_EVENTS.name(instance)
        fill_seconds = asyncio.run(fill(amqp_url, queue, events, per_deal))
        logs = log_dir("analytics-worker-process")
        database = "analytics_bench"
        env = {
            **os.environ,
            "MONGODB_URL": mongodb_url,
            "AMQP_URL": amqp_url,
            "ANALYTICS_DATABASE": database,
            "CRM_INSTANCE": instance,
            "ANALYTICS_HEARTBEAT_PATH": "",
            "LOG_LEVEL": "WARNING",
            "CRM_ENV": "test",
        }
        with (logs / "worker.log").open("ab") as log:
            worker = subprocess.Popen(
                [str(BIN / "analytics-worker")], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                marks = asyncio.run(watch(mongodb_url, database, events, worker))
                peak = peak_kib(worker.pid)
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
        overall = events / (marks["last"] - marks["first"])
        sustained = (events * 8 // 10) / (marks["p90"] - marks["p10"])
        print()
        print(
            table(
                f"analytics-worker: {events:,} events ({events // per_deal:,} deals x {per_deal}:"
                f" created + {per_deal - 1} stage changes), prefetch 256 (batches of up to 256),"
                " pre-filled queue",
                ["measure", "value"],
                [
                    ["queue fill (publish with confirms)", f"{fill_seconds:.1f} s"],
                    ["first -> last event stored", f"{marks['last'] - marks['first']:.1f} s"],
                    ["overall rate", f"{overall:,.0f} events/s"],
                    ["sustained rate (10 % -> 90 %)", f"{sustained:,.0f} events/s"],
                    ["peak RSS of the worker (VmHWM)", f"{peak / 1024:.0f} MiB"],
                    ["deals in the projection", f"{int(marks['deals']):,}"],
                ],
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-deal", type=int, default=5)
    args = parser.parse_args()
    run(args.events, args.per_deal)


if __name__ == "__main__":
    main()
