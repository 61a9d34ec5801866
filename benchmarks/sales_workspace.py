"""The sales workspace's two lists at scale, p50 through the gateway (the suite started as the
tests start it):

- ``tasks(filter: { due: TODAY, status: OPEN })`` for one rep among 100,000 tasks (written
  straight into the customers database with the service's document shape);
- the deal list sorted by amount (``opportunities(sort: { field: AMOUNT, direction: DESC })``)
  over 100,000 deals, as an admin (every deal) and as a rep (a quarter of them), first page
  and the page after it.

Usage: ``uv run python benchmarks/sales_workspace.py [--deals 100000] [--tasks 100000]
[--rounds 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pipeline_common import insert_open_opportunities, make_token, suite, summary_ms, table
from pymongo import MongoClient

from customers.adapters.task_repository import task_document
from customers.domain.tasks import Task, TaskPriority

TODAY = """query { tasks(filter: { due: TODAY, status: OPEN }, first: 50) {
  edges { cursor node { id title dueAt customerId } } pageInfo { hasNextPage endCursor } } }"""
BY_AMOUNT = """query($after: String) {
  opportunities(sort: { field: AMOUNT, direction: DESC }, first: 20, after: $after) {
    totalCount edges { cursor node { id title amount { amount currency } } }
    pageInfo { hasNextPage endCursor } } }"""

REP = "rep-1"


def insert_tasks(mongodb_url: str, database: str, count: int) -> int:
    """``count`` tasks of 400 assignees (one of them ``REP``) due within +-20 days; returns how
    many of REP's are open and due today."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    start_of_today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assignees = [REP, *(f"bench-rep-{i}" for i in range(399))]
    docs, mine_today = [], 0
    for i in range(count):
        assignee = assignees[i % len(assignees)]
        due = now + timedelta(minutes=rng.randint(-20 * 1440, 20 * 1440))
        task = Task.create(
            id=str(uuid.uuid4()),
            title=f"Bench follow-up {i}",
            due_at=due,
            assignee_id=assignee,
            team="team-bench" if assignee != REP else "team-1",
            customer_id=None,
            customer_owner_id=None,
            customer_team=None,
            opportunity_id=None,
            priority=TaskPriority.MEDIUM,
            notes=None,
            created_by=assignee,
            at=now - timedelta(days=30),
        )
        if assignee == REP and start_of_today <= task.due_at < start_of_today + timedelta(days=1):
            mine_today += 1
        docs.append(task_document(task))
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)
    with client:
        for begin in range(0, len(docs), 1000):
            client[database].tasks.insert_many(docs[begin : begin + 1000], ordered=False)
    return mine_today


async def measure(
    url: str, token: str, query: str, rounds: int, after: bool = False
) -> tuple[list[float], int]:
    timings: list[float] = []
    edges = 0
    async with httpx.AsyncClient(timeout=120) as client:
        headers = {"Authorization": f"Bearer {token}"}
        variables: dict[str, Any] = {}
        if after:
            first = await client.post(url, json={"query": query}, headers=headers)
            variables["after"] = first.json()["data"]["opportunities"]["pageInfo"]["endCursor"]
        for i in range(rounds + 2):
            started = time.perf_counter()
            response = await client.post(
                url, json={"query": query, "variables": variables}, headers=headers
            )
            elapsed = time.perf_counter() - started
            body = response.json()
            if body.get("errors"):  # e.g. GATEWAY_TIMEOUT: reported, not hidden
                raise RuntimeError(str(body["errors"])[:200])
            if i >= 2:  # two warm-up rounds
                timings.append(elapsed)
            data = next(iter(body["data"].values()))
            edges = len(data["edges"])
    return timings, edges


def main() -> None:
    """The suite is started outside any event loop (its broker probe runs its own loop)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with suite("sales-workspace") as running:
        started = time.perf_counter()
        insert_open_opportunities(running, args.deals, owners=(REP, "rep-2", "rep-3", "rep-4"))
        mine_today = insert_tasks(running.mongodb_url, running.database("customers"), args.tasks)
        print(
            f"seeded {args.deals} deals and {args.tasks} tasks "
            f"in {time.perf_counter() - started:.0f} s"
        )
        url = running.gateway_url
        rep_token = make_token("rep", REP)
        admin_token = make_token("admin", "admin-1")
        rows = []
        for name, token, query, after in (
            (f"tasks(due: TODAY, OPEN) as {REP} ({mine_today} due today)", rep_token, TODAY, False),
            (
                "opportunities by AMOUNT DESC, admin (all deals), page 1",
                admin_token,
                BY_AMOUNT,
                False,
            ),
            ("opportunities by AMOUNT DESC, admin, page 2 (cursor)", admin_token, BY_AMOUNT, True),
            (
                f"opportunities by AMOUNT DESC, {REP} (1/4 of deals), page 1",
                rep_token,
                BY_AMOUNT,
                False,
            ),
        ):
            try:
                timings, edges = asyncio.run(measure(url, token, query, args.rounds, after))
            except RuntimeError as exc:
                rows.append((name, f"error: {exc}"[:80], float("nan"), float("nan"), float("nan")))
                continue
            s = summary_ms(timings)
            rows.append((name, edges, s["p50"], s["p95"], s["max"]))
        print(table(("query (through the gateway)", "edges", "p50 ms", "p95 ms", "max ms"), rows))


if __name__ == "__main__":
    main()
