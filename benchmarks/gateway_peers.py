"""Our gateway against @apollo/gateway and @graphql-hive/gateway: same supergraph, same
canned-response subgraphs, same queries, one run.

    uv run python benchmarks/gateway_peers.py [--seconds 10] [--rounds 3] [--concurrency 32]

Peers: @apollo/gateway 2.14.4 (tools/federation-peers, tools/federation-peers/apollo_serve.mjs)
and @graphql-hive/gateway 2.15.1 (tools/hive-gateway, its CLI), both pinned by lock files.
Subgraphs: products, reviews, accounts, inventory (tools/federation-peers/canned_subgraphs.mjs:
each distinct request is executed once, then answered from a cache, so they are never the
bottleneck). Each gateway runs as one process (ours: one uvicorn worker), warmed up until its
rate is steady (2 s steps until two in a row differ by under 10%: a fresh Node gateway is
several times slower for its first seconds); then ``--rounds`` interleaved rounds load each
gateway with each query in turn, and the tables give the median and the spread. Every
answer is compared with the one computed from the canned data. The load generator is
tools/federation-peers/loadgen.mjs (closed loop, keep-alive). CPU time per request is the
gateway process tree's user+system time over the run divided by its requests. Queries:

- one-fetch:   topProducts(first: 5) { upc name price }                 (1 subgraph fetch)
- three-fetch: topProducts(first: 5) { name reviews { body author { name } } }   (3 fetches)
- list-100:    topProducts(first: 100) { name price inStock reviews { body author { name } } }
               (100 products, 200 reviews, nested joins: 4 fetches)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "tools" / "federation-peers"
HIVE = ROOT / "tools" / "hive-gateway"
COMPOSE = ROOT / "tools" / "composition" / "compose.mjs"
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
sys.path.insert(0, str(ROOT / "scripts"))

from corpus.harness import ensure_node_modules  # noqa: E402

from crm_common.identity import mint_token  # noqa: E402

HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", '
    'import: ["@key", "@shareable", "@external", "@requires", "@provides"])\n'
)
N = 100
PRODUCTS = [
    {"__typename": "Product", "upc": f"p{i}", "name": f"Product {i}", "price": 100 + i}
    for i in range(N)
]
SUBGRAPHS: dict[str, dict[str, Any]] = {
    "products": {
        "sdl": 'type Product @key(fields: "upc") { upc: String! name: String! price: Int! }\n'
        "type Query { topProducts(first: Int = 5): [Product!]! }\n",
        "root": {"topProducts": {"__args": True, "items": PRODUCTS}},
        "entities": {"Product": PRODUCTS},
    },
    "reviews": {
        "sdl": 'type Product @key(fields: "upc") { upc: String! reviews: [Review!]! }\n'
        "type Review { id: ID! body: String! author: User! }\n"
        'type User @key(fields: "id") { id: ID! }\n',
        "entities": {
            "Product": [
                {
                    "upc": p["upc"],
                    "reviews": [
                        {
                            "id": f"r{i}-{j}",
                            "body": f"Review {j} of {p['name']}",
                            "author": {"__typename": "User", "id": f"u{(i + j) % 10}"},
                        }
                        for j in range(2)
                    ],
                }
                for i, p in enumerate(PRODUCTS)
            ]
        },
    },
    "accounts": {
        "sdl": 'type User @key(fields: "id") { id: ID! name: String! }\ntype Query { me: User }\n',
        "root": {"me": {"__typename": "User", "id": "u1"}},
        "entities": {"User": [{"id": f"u{i}", "name": f"User {i}"} for i in range(10)]},
    },
    "inventory": {
        "sdl": 'type Product @key(fields: "upc") { upc: String! inStock: Boolean! }\n',
        "entities": {
            "Product": [{"upc": p["upc"], "inStock": i % 3 != 0} for i, p in enumerate(PRODUCTS)]
        },
    },
}
QUERIES = {
    "one-fetch": "{ topProducts(first: 5) { upc name price } }",
    "three-fetch": "{ topProducts(first: 5) { name reviews { body author { name } } } }",
    "list-100": (
        "{ topProducts(first: 100) { name price inStock reviews { body author { name } } } }"
    ),
}
JWT_SECRET = "gateway-benchmark-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system time of the process and its descendants (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        stack.extend(int(c) for c in children)
    return total


@dataclass
class Running:
    name: str
    popen: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


def start(name: str, command: list[str], url: str, env: dict[str, str], log: Path) -> Running:
    popen = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its children
    )
    running = Running(name, popen, url)
    deadline = time.monotonic() + 60
    body = {"query": "{ __typename }"}
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            break
        try:
            response = httpx.post(url, json=body, headers=auth_headers(), timeout=2)
            if response.status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    running.stop()
    raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")


def auth_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(JWT_SECRET, user_id='bench', roles=['admin'])}"}


def load(url: str, query: str, concurrency: int, seconds: float, work: Path) -> dict[str, Any]:
    body = work / "body.json"
    body.write_text(json.dumps({"query": query}))
    header = f"authorization={auth_headers()['authorization']}"
    completed = subprocess.run(
        [
            "node",
            str(PEERS / "loadgen.mjs"),
            url,
            str(body),
            str(concurrency),
            str(seconds),
            header,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=["ours", "apollo", "hive"])
    parser.add_argument(
        "--python",
        nargs="*",
        default=[],
        metavar="NAME=INTERPRETER",
        help="also run our gateway on another Python (an environment with the workspace"
        " installed), e.g. ours-3.13=/tmp/venv313/bin/python",
    )
    args = parser.parse_args()
    for spec in args.python:
        args.only.append(spec.partition("=")[0])
    if "hive" in args.only:
        ensure_node_modules(HIVE)
    with canned_subgraphs() as (work, supergraph):
        results = run_gateways(args, work, supergraph)
    print_tables(results, args)


@contextlib.contextmanager
def canned_subgraphs() -> Iterator[tuple[Path, Path]]:
    """``(work dir, supergraph file)``: the four canned subgraphs running, composed."""
    ensure_node_modules(PEERS)
    ensure_node_modules(COMPOSE.parent)
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    sub_port = free_port()
    config = work / "subgraphs.json"
    config.write_text(
        json.dumps({"subgraphs": {n: {**s, "sdl": s["sdl"]} for n, s in SUBGRAPHS.items()}})
    )
    arguments = []
    for name, sub in SUBGRAPHS.items():
        sdl = work / f"{name}.graphql"
        sdl.write_text(HEADER + sub["sdl"])
        arguments.append(f"{name}=http://127.0.0.1:{sub_port}/{name}={sdl}")
    composed = subprocess.run(
        ["node", str(COMPOSE), *arguments], capture_output=True, text=True, check=True
    )
    supergraph = work / "supergraph.graphql"
    supergraph.write_text(composed.stdout)
    subgraphs = subprocess.Popen(
        ["node", str(PEERS / "canned_subgraphs.mjs"), str(config), str(sub_port)],
        stdout=(work / "subgraphs.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield work, supergraph
    finally:
        os.killpg(subgraphs.pid, signal.SIGTERM)
        subgraphs.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def ours_env(port: int, supergraph: Path) -> dict[str, str]:
    """Our gateway on one port, serving the supergraph file (no registry), quiet."""
    return {
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_SUPERGRAPH_PATH": str(supergraph),
        "JWT_SECRET": JWT_SECRET,
        "CRM_ENV": "test",
        "LOG_LEVEL": "WARNING",
    }


OURS_COMMAND = [sys.executable, "-m", "gateway.main"]


def run_gateways(
    args: argparse.Namespace, work: Path, supergraph: Path
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every gateway started at once (idle ones cost nothing), warmed until steady, then
    ``--rounds`` interleaved rounds: each round loads every gateway with every query in turn,
    so a noisy minute of the machine hits all of them alike."""
    alternatives = dict(spec.partition("=")[::2] for spec in args.python)
    ports = {name: free_port() for name in ("ours", "apollo", "hive", *alternatives)}
    commands = {
        **{name: [python, "-m", "gateway.main"] for name, python in alternatives.items()},
        "ours": OURS_COMMAND,
        "apollo": ["node", str(PEERS / "apollo_serve.mjs"), str(supergraph), str(ports["apollo"])],
        "hive": [
            "node", str(HIVE / "node_modules" / ".bin" / "hive-gateway"), "supergraph",
            str(supergraph), "--port", str(ports["hive"]), "--host", "127.0.0.1", "--fork", "1",
        ],
    }  # fmt: skip
    envs = {
        **{name: ours_env(ports[name], supergraph) for name in alternatives},
        "ours": ours_env(ports["ours"], supergraph),
        "apollo": {"NODE_ENV": "production"},
        "hive": {"NODE_ENV": "production"},
    }
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    running: dict[str, Running] = {}
    try:
        for gateway in args.only:
            url = f"http://127.0.0.1:{ports[gateway]}/graphql"
            running[gateway] = start(
                gateway, commands[gateway], url, envs[gateway], work / f"{gateway}.log"
            )
        for gateway in args.only:
            for query in QUERIES.values():
                warm_until_steady(running[gateway], query, args, work)
        for _ in range(args.rounds):
            for scenario, query in QUERIES.items():
                for gateway in args.only:
                    result = measure(running[gateway], query, args, work)
                    check_answer(gateway, scenario, result)
                    results.setdefault((gateway, scenario), []).append(result)
    finally:
        for process in running.values():
            process.stop()
    return results


def warm_until_steady(
    running: Running, query: str, args: argparse.Namespace, work: Path, limit: float = 40.0
) -> None:
    """Load in 2 s steps until two steps in a row differ by under 10% (a fresh Node gateway
    serves a fraction of its rate for its first 10-15 s: JIT, plan caches, connections)."""
    started = time.monotonic()
    previous = 0.0
    while time.monotonic() - started < limit:
        result = load(running.url, query, args.concurrency, 2.0, work)
        if result["errors"]:
            raise RuntimeError(f"{running.name}: {result['sample'][:500]}")
        rate = result["requests"] / result["seconds"]
        if previous and abs(rate - previous) / previous < 0.10:
            return
        previous = rate


def measure(running: Running, query: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One closed-loop run against a started (warm) gateway, with its CPU time."""
    before = cpu_seconds(running.popen.pid)
    result = load(running.url, query, args.concurrency, args.seconds, work)
    result["cpu"] = cpu_seconds(running.popen.pid) - before
    return result


def expected_answer(scenario: str) -> dict[str, Any]:
    """What every gateway must answer, computed from the canned subgraphs' data."""
    reviews = {r["upc"]: r["reviews"] for r in SUBGRAPHS["reviews"]["entities"]["Product"]}
    users = {u["id"]: u["name"] for u in SUBGRAPHS["accounts"]["entities"]["User"]}
    stock = {i["upc"]: i["inStock"] for i in SUBGRAPHS["inventory"]["entities"]["Product"]}

    def with_reviews(product: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"body": r["body"], "author": {"name": users[r["author"]["id"]]}}
            for r in reviews[product["upc"]]
        ]

    if scenario == "one-fetch":
        items = [{"upc": p["upc"], "name": p["name"], "price": p["price"]} for p in PRODUCTS[:5]]
    elif scenario == "three-fetch":
        items = [{"name": p["name"], "reviews": with_reviews(p)} for p in PRODUCTS[:5]]
    else:
        items = [
            {
                "name": p["name"],
                "price": p["price"],
                "inStock": stock[p["upc"]],
                "reviews": with_reviews(p),
            }
            for p in PRODUCTS[:100]
        ]
    return {"topProducts": items}


def check_answer(gateway: str, scenario: str, result: dict[str, Any]) -> None:
    if result["errors"]:
        raise RuntimeError(f"{gateway} {scenario}: {result['errors']} errors")
    if json.loads(result["sample"]).get("data") != expected_answer(scenario):
        raise RuntimeError(f"{gateway} {scenario}: a wrong answer: {result['sample'][:300]}")


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    rates = [r["requests"] / r["seconds"] for r in runs]
    return {
        "rps": statistics.median(rates),
        "rps_min": min(rates),
        "rps_max": max(rates),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "cpu_ms": statistics.median(1000 * r["cpu"] / max(r["requests"], 1) for r in runs),
    }


def print_tables(
    results: dict[tuple[str, str], list[dict[str, Any]]], args: argparse.Namespace
) -> None:
    print(
        f"\n{args.rounds} interleaved rounds of {args.seconds:g} s, concurrency"
        f" {args.concurrency}, one process per gateway (warmed until steady), {os.cpu_count()}"
        " CPUs shared with the load generator and the subgraphs; every answer checked\n"
    )
    print("| query | gateway | req/s (median) | min-max | p50 ms | p99 ms | CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    summaries = {key: summary(runs) for key, runs in results.items()}
    for scenario in QUERIES:
        for gateway in args.only:
            r = summaries[(gateway, scenario)]
            print(
                f"| {scenario} | {gateway} | {r['rps']:.0f} | {r['rps_min']:.0f}-{r['rps_max']:.0f}"
                f" | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu_ms']:.3f} |"
            )
    peers = [g for g in args.only if g != "ours"]
    if "ours" not in args.only or not peers:
        return
    print("\nours as a ratio of each peer (throughput: higher is better; latency, CPU: lower)\n")
    print("| query | peer | req/s | p50 | p99 | CPU/req |")
    print("|---|---|---|---|---|---|")
    for scenario in QUERIES:
        ours = summaries[("ours", scenario)]
        for peer in peers:
            theirs = summaries[(peer, scenario)]
            print(
                f"| {scenario} | {peer} | {ours['rps'] / theirs['rps']:.2f}x"
                f" | {ours['p50_ms'] / theirs['p50_ms']:.2f}x"
                f" | {ours['p99_ms'] / theirs['p99_ms']:.2f}x"
                f" | {ours['cpu_ms'] / theirs['cpu_ms']:.2f}x |"
            )


if __name__ == "__main__":
    main()
