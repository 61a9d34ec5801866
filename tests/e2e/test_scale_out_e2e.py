"""Every process as two replicas on one database and one broker: two of each API (so two
outbox relays per database), two analytics workers, the gateway spreading its calls over the
replicas. 2,000 moves across 200 deals, with one replica of each kind SIGKILLed midway: every
committed move's event arrives exactly once in analytics and in the customers' timelines, in
order per deal, and the analytics figures equal the pipeline's own.

A suite of its own (its own virtual host and database): it kills processes, which the
session's suite must not suffer."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from crmstack.suite import Suite, make_token, running_suite, throwaway_infrastructure
from support.graphql import data, gql
from support.polling import eventually

pytestmark = pytest.mark.scale  # make test-scale (minutes of its own; CI runs it too)

DEALS = 200
MOVES_PER_DEAL = 10
OPEN_STAGES = (
    "default-initial-contact",
    "default-needs-analysis",
    "default-proposal",
    "default-negotiation",
)
CONCURRENCY = 16
#: One of each kind, killed when half the moves are done.
VICTIMS = ("pipeline", "customers", "analytics", "analytics-worker")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    log_dir = Path(tmp_path_factory.mktemp("scale-out"))
    with (
        throwaway_infrastructure(log_dir) as (mongodb_url, amqp_url, instance),
        running_suite(
            mongodb_url=mongodb_url, amqp_url=amqp_url, log_dir=log_dir, instance=instance
        ) as suite,
    ):
        for name in ("customers", "pipeline", "analytics", "analytics-worker"):
            suite.start_replica(name)
        suite.restart("gateway", fresh_env=True)  # now it knows every subgraph replica
        yield suite


CREATE_CUSTOMER = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }"
CREATE_DEAL = "mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }"
MOVE = "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { version } }"
BOARD = '{ board(pipelineId: "default") { columns { stage { id } count } } }'
AS_OF = 'query($at: DateTime!) { pipelineAsOf(pipelineId: "default", at: $at) { stageId count } }'


@pytest.mark.timeout(900)
async def test_two_replicas_of_everything_lose_duplicate_and_reorder_nothing(
    replicated: Suite,
) -> None:
    suite, admin = replicated, make_token("admin")
    url = suite.gateway_url
    customers = [
        (
            await data(
                url, CREATE_CUSTOMER, {"i": {"kind": "COMPANY", "name": f"Scale {n}"}}, token=admin
            )
        )["createCustomer"]["id"]
        for n in range(20)
    ]
    deals: list[str] = []
    for n in range(DEALS):
        created = await data(
            url,
            CREATE_DEAL,
            {
                "i": {
                    "title": f"Deal {n}",
                    "customerId": customers[n % len(customers)],
                    "amount": {"amount": "100.00", "currency": "EUR"},
                }
            },
            token=admin,
        )
        deals.append(created["createOpportunity"]["id"])

    failures = 0
    done = 0
    killed = asyncio.Event()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def drive(deal: str) -> None:
        nonlocal failures, done
        stages = itertools.cycle(OPEN_STAGES[1:] + OPEN_STAGES[:1])
        for _ in range(MOVES_PER_DEAL):
            async with gate:
                body = await gql(url, MOVE, {"id": deal, "s": next(stages)}, token=admin)
            if body.get("errors"):
                failures += 1  # a replica died under it: committed or not, the database says
            done += 1
            if done == DEALS * MOVES_PER_DEAL // 2 and not killed.is_set():
                killed.set()
                for victim in VICTIMS:
                    suite.kill(victim)  # SIGKILL: no shutdown hook runs

    await asyncio.gather(*(drive(deal) for deal in deals))
    assert killed.is_set()
    assert failures < DEALS * MOVES_PER_DEAL // 20, f"{failures} moves failed"

    # The truth: what the pipeline committed (each deal's version is its last event's sequence).
    client: MongoClient[dict[str, Any]] = MongoClient(suite.mongodb_url)
    with client:
        committed = {
            doc["_id"]: doc["version"]
            for doc in client[suite.database("pipeline")].opportunities.find(
                {"_id": {"$in": deals}}, {"version": 1}
            )
        }
        assert sum(committed.values()) >= DEALS * MOVES_PER_DEAL  # 1 create + moves each
        analytics = client[suite.database("analytics")]
        timeline = client[suite.database("customers")].interactions

        def arrived() -> tuple[int, int]:
            events = analytics.events.count_documents({"subject": {"$in": deals}})
            steps = timeline.count_documents(
                {"opportunity_id": {"$in": deals}, "kind": "STAGE_CHANGE"}
            )
            return events, steps

        expected = sum(committed.values())
        await eventually(
            arrived,
            lambda got: got == (expected, expected),
            within=180,
            interval=1,
            what="every committed event in analytics and in the timelines",
        )
        for deal, version in committed.items():
            sequences = sorted(
                e["sequence"] for e in analytics.events.find({"subject": deal}, {"sequence": 1})
            )
            assert sequences == list(range(1, version + 1)), deal  # each once, none missing
            keys = {
                d["_id"]
                for d in timeline.find({"opportunity_id": deal, "kind": "STAGE_CHANGE"}, {"_id": 1})
            }
            assert keys == {f"opp:{deal}:{n}" for n in range(1, version + 1)}, deal

    # Folded in order: the reports equal the pipeline's own board.
    board = (await data(url, BOARD, token=admin))["board"]["columns"]
    by_board = {c["stage"]["id"]: c["count"] for c in board}
    at = datetime.now(UTC).isoformat()

    async def as_of() -> dict[str, int]:
        rows = (await data(url, AS_OF, {"at": at}, token=admin))["pipelineAsOf"]
        return {r["stageId"]: r["count"] for r in rows if r["stageId"] in by_board}

    assert await eventually(as_of, lambda got: got == by_board, within=60, what="as-of = board")
