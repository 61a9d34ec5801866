"""Sustained ``moveOpportunity`` at an offered rate (open loop: requests start on schedule
whatever the answers), and the delay from an accepted move to its
``pipeline.opportunity.stage_changed`` event in a queue bound to ``crm.events``, at 50 and
200 moves per second offered, on the suite started as the tests start it.

Moves go straight to the pipeline subgraph (its rate, not the gateway's). Each opportunity has
at most one move in flight (as a user dragging a card), over a pool of opportunities written
straight into the pipeline database (``pipeline_common.insert_open_opportunities``). The delay
of a move is (event received by the bench's consumer) - (HTTP answer received), on one clock:
the event can come in before the answer, so small negative delays are possible.

Usage: ``uv run python benchmarks/pipeline_moves.py [--rates 50 200] [--seconds 10] [--deals 400]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aio_pika
import httpx
from pipeline_common import (
    insert_open_opportunities,
    make_token,
    percentile,
    suite,
    summary_ms,
    table,
)

from crm_common.events import EXCHANGE

MOVE = """mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id version } }"""
OPEN_STAGES = [
    "default-initial-contact",
    "default-needs-analysis",
    "default-proposal",
    "default-negotiation",
]


class EventClock:
    """A queue bound to stage_changed events; records when each (subject, sequence) arrives."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.arrived: dict[tuple[str, int], float] = {}

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="pipeline.opportunity.stage_changed")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        event = json.loads(message.body)
        self.arrived.setdefault((event["subject"], event["sequence"]), time.perf_counter())

    async def close(self) -> None:
        await self.connection.close()


async def run_rate(
    url: str,
    token: str,
    ids: list[str],
    stage_of: dict[str, int],
    clock: EventClock,
    rate: float,
    seconds: float,
) -> list[Any]:
    """``stage_of``: each deal's current stage (index in OPEN_STAGES), kept across runs, so
    that every move goes to another stage (a stage change with its event)."""
    free: asyncio.Queue[str] = asyncio.Queue()
    for oid in ids:
        free.put_nowait(oid)
    accepted: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    errors = 0
    skipped = 0
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(oid: str) -> None:
            nonlocal errors
            target = (stage_of[oid] + 1) % len(OPEN_STAGES)
            started = time.perf_counter()
            try:
                response = await client.post(
                    url,
                    json={"query": MOVE, "variables": {"id": oid, "s": OPEN_STAGES[target]}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                done = time.perf_counter()
                moved = response.json()["data"]["moveOpportunity"]
                assert (oid, moved["version"]) not in accepted, "a move without a stage change"
                accepted[(oid, moved["version"])] = done
                latencies.append(done - started)
                stage_of[oid] = target
            except Exception:
                errors += 1
            finally:
                free.put_nowait(oid)

        tasks = []
        begin = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):
            due = begin + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if free.empty():
                skipped += 1  # every deal already has a move in flight: the service lags
                continue
            tasks.append(asyncio.create_task(one(free.get_nowait())))
        offered_end = time.perf_counter()
        await asyncio.gather(*tasks)
        finished = time.perf_counter()
    # Wait for the events of every accepted move.
    for _ in range(1200):  # up to 60 s
        if set(accepted) <= set(clock.arrived):
            break
        await asyncio.sleep(0.05)
    delays = [clock.arrived[key] - at for key, at in accepted.items() if key in clock.arrived]
    missing = len(set(accepted) - set(clock.arrived))
    lat, dly = summary_ms(latencies), summary_ms(delays)
    return [
        f"{rate:.0f}",
        f"{len(accepted) / (finished - begin):.1f}",
        len(accepted),
        errors + skipped,
        lat["p50"],
        lat["p99"],
        percentile([d * 1000 for d in delays], 50),
        percentile([d * 1000 for d in delays], 99),
        dly["max"],
        missing,
        f"{offered_end - begin:.1f}/{finished - begin:.1f}",
    ]


async def measure(suite_: Any, ids: list[str], rates: list[float], seconds: float) -> list[Any]:
    clock = EventClock(suite_.amqp_url)
    await clock.start()
    try:
        token = make_token("admin", "admin-1")
        url = suite_.subgraph_url("pipeline")
        # insert_open_opportunities puts deal i in OPEN stage i % 4 (the default pipeline's).
        stage_of = {oid: i % len(OPEN_STAGES) for i, oid in enumerate(ids)}
        await run_rate(url, token, ids[:50], stage_of, clock, 20, 2)  # warm-up
        rows = []
        for rate in rates:
            rows.append(await run_rate(url, token, ids, stage_of, clock, rate, seconds))
        return rows
    finally:
        await clock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--deals", type=int, default=400)
    args = parser.parse_args()
    with suite("pipeline-moves") as running:
        ids = insert_open_opportunities(running, args.deals)
        rows = asyncio.run(measure(running, ids, args.rates, args.seconds))
    print(
        f"\nmoveOpportunity straight to the pipeline subgraph, open loop for {args.seconds:.0f} s "
        f"per rate, {args.deals} deals (one move in flight per deal); event delay = "
        "stage_changed received in a bound queue - HTTP answer received\n"
    )
    print(
        table(
            [
                "offered/s",
                "accepted/s",
                "accepted",
                "refused+skipped",
                "move p50 ms",
                "move p99 ms",
                "event delay p50 ms",
                "event delay p99 ms",
                "delay max ms",
                "events missing",
                "offer/finish s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
