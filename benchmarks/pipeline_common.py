"""Shared by the pipeline benchmarks: the suite as the tests start it, opportunities written
straight into the pipeline database, timing helpers and tables."""

from __future__ import annotations

import contextlib
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from pymongo import MongoClient  # noqa: E402

from crmstack.suite import Suite, make_token, throwaway_suite  # noqa: E402
from pipeline.adapters.mongo import opportunity_state  # noqa: E402
from pipeline.domain.model import Opportunity, Pipeline, default_pipeline  # noqa: E402
from pipeline.domain.money import Money  # noqa: E402
from pipeline.domain.ranking import rank_between  # noqa: E402

__all__ = ["Suite", "make_token"]


@contextlib.contextmanager
def suite(name: str) -> Iterator[Suite]:
    log_dir = ROOT / ".run" / f"bench-{name}-{int(time.time())}"
    with throwaway_suite(log_dir) as running:
        yield running


def pipeline_db(suite: Suite) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(suite.mongodb_url, tz_aware=True)
    return client, client[f"pipeline{suite.database_suffix}"]


def insert_open_opportunities(
    suite: Suite,
    count: int,
    *,
    pipeline: Pipeline | None = None,
    owners: Sequence[str] = ("rep-1", "rep-2", "rep-3", "rep-4"),
    team: str = "team-1",
    customers: int = 500,
) -> list[str]:
    """``count`` OPEN opportunities written straight into the pipeline database, with the
    document shape the service writes (``Opportunity.create`` + ``opportunity_state`` of
    ``pipeline.adapters.mongo``, outbox empty: as if the relay had published everything).
    Spread over the pipeline's OPEN stages, three currencies, a few owners; each column's
    ranks are appended in order. The customers are also written to ``known_customers``."""
    pipeline = pipeline or default_pipeline()
    open_stages = [s for s in pipeline.active_stages if not s.is_closed]
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    customer_ids = [str(uuid.uuid4()) for _ in range(customers)]
    last_rank: dict[str, str | None] = {s.id: None for s in open_stages}
    docs = []
    ids = []
    for i in range(count):
        stage = open_stages[i % len(open_stages)]
        currency = ("EUR", "USD", "GBP")[i % 3]
        rank = rank_between(last_rank[stage.id], None)
        last_rank[stage.id] = rank
        at = now - timedelta(days=rng.randint(0, 40), seconds=i)
        owner = owners[i % len(owners)]
        opportunity = Opportunity.create(
            id=str(uuid.uuid4()),
            title=f"Bench deal {i}",
            customer_id=customer_ids[i % customers],
            amount=Money(Decimal(rng.randint(100, 100_000)) + Decimal("0.50"), currency),
            owner_id=owner,
            pipeline=pipeline,
            stage=stage,
            position=rank,
            expected_close_date=None,
            actor_id=owner,
            at=at,
            team=team,
        )
        opportunity.events.clear()
        docs.append(
            {
                "_id": opportunity.id,
                **opportunity_state(opportunity),
                "created_at": opportunity.created_at,
                "outbox": [],
            }
        )
        ids.append(opportunity.id)
    client, db = pipeline_db(suite)
    with client:
        for start in range(0, len(docs), 1000):
            db.opportunities.insert_many(docs[start : start + 1000], ordered=False)
        db.known_customers.insert_many(
            [{"_id": c, "name": "Bench customer", "kind": "COMPANY"} for c in customer_ids]
        )
    return ids


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
        "max": max(ms) if ms else float("nan"),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([line, rule, *body])
