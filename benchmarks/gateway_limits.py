"""Throughput cost of the gateway's guard rails (limits.py), in one run, as a ratio.

    uv run python benchmarks/gateway_limits.py

Measures ``GatewayEngine.prepare`` (parse, limits, validate, cost) on the demo's README
queries, limits on vs off: "cold" with a fresh document per request (a cache miss every
time: the worst case, limits' full price) and "warm" with the same documents again (the
documents and their checks are cached: what repeated client operations pay). No subgraph is
called: the prepare step is where the limits work, so the ratio is an upper bound of their
share of a whole request.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.engine import GatewayEngine
from gateway.limits import OperationLimits
from gateway.supergraph import load_supergraph_file

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "{ customers(first: 5) { totalCount edges { node { name lifecycle"
    " opportunities { title amount { amount currency } stage { name } status } } } } }",
    '{ board(pipelineId: "default") { columns { stage { name probability rottingDays } count'
    " totalAmount { amount currency } opportunities(first: 20) { edges { node { title"
    " amount { amount currency } ownerId } } } } } }",
    '{ customer(id: "c") { name lifecycle source { campaign } opportunities { title'
    " amount { amount currency } stage { name } status } } }",
    '{ funnel(pipelineId: "default") { won lost steps { stageName entered advanced'
    " conversionRate cumulativeRate } } }",
]


def run(limits: OperationLimits, texts: list[str]) -> float:
    supergraph = load_supergraph_file(ROOT / "contracts" / "supergraph.graphql")
    engine = GatewayEngine(supergraph, transport=Any, limits=limits, document_cache_size=100_000)  # type: ignore[arg-type]
    started = time.perf_counter()
    for text in texts:
        engine.prepare(text, None)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        for text in texts:
            engine.prepare(text, None)
    warm = time.perf_counter() - started
    return len(texts) / cold, 20 * len(texts) / warm  # type: ignore[return-value]


def main() -> None:
    texts = [f"# request {i}\n{QUERIES[i % len(QUERIES)]}" for i in range(2000)]
    rows = []
    for _ in range(3):  # interleaved rounds: the machine's noise hits both alike
        rows.append((run(OperationLimits(enabled=False), texts), run(OperationLimits(), texts)))
    off_cold = max(r[0][0] for r in rows)
    on_cold = max(r[1][0] for r in rows)
    off_warm = max(r[0][1] for r in rows)
    on_warm = max(r[1][1] for r in rows)
    print("| prepare path | limits off (ops/s) | limits on (ops/s) | on/off |")
    print("|---|---|---|---|")
    print(
        f"| cold (new document each time) | {off_cold:.0f} | {on_cold:.0f} |"
        f" {on_cold / off_cold:.3f} |"
    )
    print(
        f"| warm (cached documents) | {off_warm:.0f} | {on_warm:.0f} | {on_warm / off_warm:.3f} |"
    )


if __name__ == "__main__":
    main()
