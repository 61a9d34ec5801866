"""What a MARKOV or HISTORICAL forecast pays for the pipeline's history after deals changed.

In process, no database: the API's deal cache is modelled by a dict whose deal states are
replaced as events apply (as ``CachedReadModel`` does). ``HistoryCache`` re-tallies only the
deals whose state object changed; before, every forecast after any change re-read the whole
history. Printed: the full tally (the first forecast after a start, and what every forecast
after a change cost before) against the incremental update after k changed deals.

    uv run python benchmarks/analytics_history.py --open-deals 100000 --closed-deals 30000
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from analytics_common import DealEvents, start_of_history, table

from analytics.domain import forecast as fc
from analytics.domain.deal import DealState
from analytics.domain.model import Stage
from analytics.entrypoints.messages import to_change
from analytics.service_layer.services import HistoryCache


class ReplacingDeals:
    """Deal states replaced, never mutated, when they change (like the API's deal cache)."""

    def __init__(self, states: dict[str, DealState]) -> None:
        self.states = states
        self.changes = 0

    async def change_count(self, pipeline_id: str) -> int:
        return self.changes

    async def deals(self, pipeline_id: str, **_: Any) -> list[DealState]:
        return list(self.states.values())

    def touch(self, deal_ids: list[str]) -> None:
        for deal_id in deal_ids:
            self.states[deal_id] = copy.copy(self.states[deal_id])
        self.changes += 1


def fold(open_deals: int, closed_deals: int) -> dict[str, DealState]:
    generator = DealEvents("bench-pipeline", random.Random(11), start_of_history())
    states: dict[str, DealState] = {}
    for n in range(open_deals + closed_deals):
        closed = n >= open_deals
        for event in generator.events(10 if closed else 7, closed, f"rep-{n % 40}"):
            change = to_change(event)
            assert change is not None
            states.setdefault(change.opportunity_id, DealState(change.opportunity_id)).apply(change)
    return states


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open-deals", type=int, default=100_000)
    parser.add_argument("--closed-deals", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    model = ReplacingDeals(fold(args.open_deals, args.closed_deals))
    print(f"folded {len(model.states):,} deals in {time.perf_counter() - started:.0f} s")
    stages: list[Stage] = []  # HistoryCache does not need them to tally
    now = datetime.now(UTC)
    ids = list(model.states)
    rng = random.Random(5)

    full: list[float] = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        tally = fc.HistoryTally()
        for deal in model.states.values():
            tally.add(deal)
        tally.stats()
        tally.win_rates()
        full.append(time.perf_counter() - began)
    rows = [["whole history tallied afresh", "all", *(f"{x}" for x in _ms(full))]]

    cache = HistoryCache(ttl=3600)
    await cache.get("bench-pipeline", stages, model, now)  # type: ignore[arg-type]
    for changed in (1, 10, 100, 1000):
        samples: list[float] = []
        for _ in range(args.repeat):
            model.touch(rng.sample(ids, changed))
            began = time.perf_counter()
            await cache.get("bench-pipeline", stages, model, now)  # type: ignore[arg-type]
            samples.append(time.perf_counter() - began)
        rows.append(
            [
                "HistoryCache after changes",
                f"{changed:,}",
                *(f"{x}" for x in _ms(samples)),
            ]
        )
    median_full = statistics.median(full)
    print(
        table(
            f"history statistics of {len(ids):,} deals, ms (min / median / max of "
            f"{args.repeat}); the full tally is {median_full * 1000:.0f} ms",
            ["what", "changed deals", "min", "median", "max"],
            rows,
        )
    )


def _ms(samples: list[float]) -> list[str]:
    ordered = sorted(samples)
    return [f"{s * 1000:.1f}" for s in (ordered[0], statistics.median(ordered), ordered[-1])]


if __name__ == "__main__":
    asyncio.run(main())
