"""``board(pipelineId)`` on a pipeline holding 10,000 OPEN opportunities: latency through the
gateway, and its ratio to the same query sent straight to the pipeline subgraph, measured in
one run (interleaved), on the suite started as the tests start it.

The opportunities are written straight into the pipeline database with the service's own
document shape (see ``pipeline_common.insert_open_opportunities``).

Usage: ``uv run python benchmarks/pipeline_board.py [--deals 10000] [--rounds 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import httpx
from pipeline_common import insert_open_opportunities, make_token, suite, summary_ms, table

BOARD = """query($p: ID!, $f: BoardFilter) { board(pipelineId: $p, filter: $f) {
  pipeline { id name }
  columns { stage { id name probability } count
    totalAmount { amount currency } weightedAmount { amount currency }
    opportunities(first: 20) { totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id title position ownerId priority
        amount { amount currency } } } } } } }"""


async def timed(
    client: httpx.AsyncClient, url: str, token: str, variables: dict[str, Any]
) -> float:
    started = time.perf_counter()
    response = await client.post(
        url,
        json={"query": BOARD, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    elapsed = time.perf_counter() - started
    body = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body
    return elapsed


async def measure(
    gateway: str, subgraph: str, rounds: int, label: str, deals: int
) -> list[list[Any]]:
    admin = make_token("admin", "admin-1")
    rep = make_token("rep", "rep-1")
    cases = [
        ("admin, all deals", admin, {"p": "default"}),
        ("admin, owner filter", admin, {"p": "default", "f": {"ownerId": "rep-2"}}),
        ("rep (own deals)", rep, {"p": "default"}),
    ]
    rows = []
    async with httpx.AsyncClient(timeout=60) as client:
        for name, token, variables in cases:
            for url in (gateway, subgraph):  # warm-up
                await timed(client, url, token, variables)
            print(f"measuring {label}: {name} ...", file=sys.stderr, flush=True)
            via_gateway, direct = [], []
            for _ in range(rounds):  # interleaved: both see the same machine state
                via_gateway.append(await timed(client, gateway, token, variables))
                direct.append(await timed(client, subgraph, token, variables))
            g, d = summary_ms(via_gateway), summary_ms(direct)
            rows.append(
                [
                    f"{deals}",
                    name,
                    g["p50"],
                    g["p95"],
                    d["p50"],
                    d["p95"],
                    f"{g['p50'] / d['p50']:.2f}x",
                    f"{g['mean'] - d['mean']:+.1f}",
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    small = min(100, args.deals)
    with suite("pipeline-board") as running:
        gateway, subgraph = running.gateway_url, running.subgraph_url("pipeline")
        # First a small board (what the gateway adds shows), then the same pipeline grown to
        # the full count (the storage dominates; on the SecantusDB stand-in every query is a
        # collection scan, so compare the ratio, not the absolute times).
        insert_open_opportunities(running, small)
        rows = asyncio.run(measure(gateway, subgraph, args.rounds * 2, "small board", small))
        started = time.perf_counter()
        insert_open_opportunities(running, args.deals - small)
        inserted = time.perf_counter() - started
        rows += asyncio.run(measure(gateway, subgraph, args.rounds, "full board", args.deals))
    print(
        f'\nboard(pipelineId: "default"): OPEN opportunities in 4 columns, 3 currencies, '
        f"first 20 cards per column, interleaved gateway/subgraph rounds ({args.rounds * 2} "
        f"for {small} deals, {args.rounds} for {args.deals}); {args.deals - small} deals "
        f"inserted in {inserted:.1f} s\n"
    )
    print(
        table(
            [
                "open deals",
                "case",
                "gateway p50 ms",
                "gateway p95 ms",
                "subgraph p50 ms",
                "subgraph p95 ms",
                "ratio p50",
                "gateway adds (mean ms)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
