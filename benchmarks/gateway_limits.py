"""Throughput cost of the gateway's guard rails (limits.py), in one run, as a ratio.

    uv run python benchmarks/gateway_limits.py [--seconds 8] [--rounds 3] [--concurrency 16]

Two tables. **End to end**: two gateway processes on the same canned subgraphs
(benchmarks/gateway_peers.py's), one with the limits on (the defaults) and one with
``GATEWAY_LIMITS_ENABLED=false``, loaded in turn, interleaved over several rounds (the best
round of each counts: noise only ever slows a run down); HTTP, JWT, planning and subgraph
fetches included — what a client pays.

**Prepare step**: ``GatewayEngine.prepare`` (parse, limits, validate, cost) on the demo's README
queries, limits on vs off: "cold" with a fresh document per request (a cache miss every
time: the worst case, limits' full price) and "warm" with the same documents again (the
documents and their checks are cached: what repeated client operations pay). No subgraph is
called: the prepare step is where the limits work, so the ratio is an upper bound of their
share of a whole request.
"""

from __future__ import annotations

import argparse
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


def end_to_end(args: argparse.Namespace) -> None:
    import gateway_peers as peers

    with peers.canned_subgraphs() as (work, supergraph):
        running = {}
        for variant, extra in (("on", {}), ("off", {"GATEWAY_LIMITS_ENABLED": "false"})):
            port = peers.free_port()
            env = {**peers.ours_env(port, supergraph), **extra}
            url = f"http://127.0.0.1:{port}/graphql"
            running[variant] = peers.start(
                variant, peers.OURS_COMMAND, url, env, work / f"{variant}.log"
            )
        try:
            for variant in ("off", "on"):
                for query in peers.QUERIES.values():
                    peers.warm_until_steady(running[variant], query, args, work)
            best: dict[tuple[str, str], float] = {}
            for _ in range(args.rounds):
                for scenario, query in peers.QUERIES.items():
                    for variant in ("off", "on"):
                        result = peers.measure(running[variant], query, args, work)
                        if result["errors"]:
                            raise RuntimeError(f"{variant} {scenario}: {result['sample'][:300]}")
                        rps = result["requests"] / result["seconds"]
                        key = (scenario, variant)
                        best[key] = max(best.get(key, 0.0), rps)
        finally:
            for process in running.values():
                process.stop()
    print(
        f"End to end: best of {args.rounds} interleaved rounds of {args.seconds:g} s,"
        f" concurrency {args.concurrency}, one gateway process each\n"
    )
    print("| query | limits off (req/s) | limits on (req/s) | on/off |")
    print("|---|---|---|---|")
    for scenario in peers.QUERIES:
        off, on = best[(scenario, "off")], best[(scenario, "on")]
        print(f"| {scenario} | {off:.0f} | {on:.0f} | {on / off:.3f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args()
    if not args.prepare_only:
        end_to_end(args)
    print("Prepare step (parse, limits, validate, cost), no subgraph called\n")
    prepare_step()


def prepare_step() -> None:
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
