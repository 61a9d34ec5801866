"""Shared by the analytics benchmarks: infrastructure as the tests find or start it (a fresh
SecantusDB unless MONGODB_URL answers, a private RabbitMQ vhost), event generation, tables."""

from __future__ import annotations

import contextlib
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from crm_common.events import CloudEvent, iso, new_event  # noqa: E402
from crmstack.suite import (  # noqa: E402
    make_token,
    throwaway_infrastructure,
    throwaway_suite,
)


def log_dir(name: str) -> Path:
    path = ROOT / ".run" / f"bench-{name}-{int(time.time())}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def infrastructure(name: str) -> Iterator[tuple[str, str, str]]:
    """(mongodb_url, amqp_url, instance): a private throw-away vhost, a fresh (or the reused)
    MongoDB, and the CRM_INSTANCE that names the run's queues."""
    with throwaway_infrastructure(log_dir(name)) as found:
        yield found


@contextlib.contextmanager
def suite(name: str) -> Iterator[Any]:
    with throwaway_suite(log_dir(name)) as running:
        yield running


def token(role: str = "admin") -> str:
    return make_token(role, "bench", "bench")


STAGES = [
    {"id": "bench-1", "name": "Initial contact", "order": 1, "kind": "OPEN", "probability": 0.1},
    {"id": "bench-2", "name": "Needs analysis", "order": 2, "kind": "OPEN", "probability": 0.25},
    {"id": "bench-3", "name": "Proposal", "order": 3, "kind": "OPEN", "probability": 0.5},
    {"id": "bench-4", "name": "Negotiation", "order": 4, "kind": "OPEN", "probability": 0.75},
    {"id": "bench-won", "name": "Won", "order": 5, "kind": "WON", "probability": 1.0},
    {"id": "bench-lost", "name": "Lost", "order": 6, "kind": "LOST", "probability": 0.0},
]
OPEN = STAGES[:4]


@dataclass
class DealEvents:
    """Generates one deal's events: created, then moves between OPEN stages (forward, mostly),
    then (``close``) a win or a loss as its last event."""

    pipeline_id: str
    rng: random.Random
    start: datetime

    def events(self, count: int, close: bool, owner: str) -> list[CloudEvent]:
        opportunity = str(uuid.uuid4())
        at = self.start
        stage = OPEN[0]
        out: list[CloudEvent] = []
        status = "OPEN"
        for sequence in range(1, count + 1):
            source = None if sequence == 1 else stage
            if sequence == 1:
                kind = "created"
            elif close and sequence == count:
                stage = STAGES[4] if self.rng.random() < 0.4 else STAGES[5]
                status = stage["kind"]
                kind = "won" if status == "WON" else "lost"
            else:
                index = OPEN.index(stage)
                step = 1 if index == 0 or self.rng.random() < 0.75 else -1
                if index == len(OPEN) - 1:
                    step = -1
                stage = OPEN[index + step]
                kind = "stage_changed"
            at += timedelta(hours=self.rng.randint(1, 24 * 6))
            data = {
                "opportunityId": opportunity,
                "customerId": "bench-customer",
                "pipelineId": self.pipeline_id,
                "ownerId": owner,
                "title": "bench deal",
                "amount": {"amount": f"{self.rng.randint(10, 500) * 100}.00", "currency": "EUR"},
                "status": status,
                "fromStage": source,
                "toStage": stage,
                "stages": STAGES,
                "changedAt": iso(at),
            }
            out.append(
                new_event(
                    source="bench",
                    type=f"pipeline.opportunity.{kind}",
                    subject=opportunity,
                    sequence=sequence,
                    data=data,
                    at=at,
                )
            )
        return out


def start_of_history(days: int = 400) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def stats_ms(samples: list[float]) -> list[str]:
    ordered = sorted(samples)
    return [
        f"{ordered[0] * 1000:.0f}",
        f"{statistics.median(ordered) * 1000:.0f}",
        f"{ordered[-1] * 1000:.0f}",
    ]
