"""Our gateway against @apollo/gateway and @graphql-hive/gateway: same supergraph, same
canned-response subgraphs, same queries, one run.

    uv run python benchmarks/gateway_peers.py [--seconds 10] [--concurrency 32]

Peers: @apollo/gateway 2.14.4 (tools/federation-peers, tools/federation-peers/apollo_serve.mjs)
and @graphql-hive/gateway 2.15.1 (tools/hive-gateway, its CLI), both pinned by lock files.
Subgraphs: products, reviews, accounts, inventory (tools/federation-peers/canned_subgraphs.mjs:
each distinct request is executed once, then answered from a cache, so they are never the
bottleneck). Each gateway runs as one process (ours: one uvicorn worker), alone, warmed up
first (its plan cache filled); the load generator is tools/federation-peers/loadgen.mjs
(closed loop, keep-alive). CPU time per request is the gateway process tree's user+system
time over the run divided by its requests. Queries:

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
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=["ours", "apollo", "hive"])
    args = parser.parse_args()
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
) -> dict[tuple[str, str], dict[str, Any]]:
    ports = {name: free_port() for name in ("ours", "apollo", "hive")}
    commands = {
        "ours": OURS_COMMAND,
        "apollo": ["node", str(PEERS / "apollo_serve.mjs"), str(supergraph), str(ports["apollo"])],
        "hive": [
            "node", str(HIVE / "node_modules" / ".bin" / "hive-gateway"), "supergraph",
            str(supergraph), "--port", str(ports["hive"]), "--host", "127.0.0.1", "--fork", "1",
        ],
    }  # fmt: skip
    envs = {
        "ours": ours_env(ports["ours"], supergraph),
        "apollo": {"NODE_ENV": "production"},
        "hive": {"NODE_ENV": "production"},
    }
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for gateway in args.only:
        url = f"http://127.0.0.1:{ports[gateway]}/graphql"
        running = start(gateway, commands[gateway], url, envs[gateway], work / f"{gateway}.log")
        try:
            for scenario, query in QUERIES.items():
                results[(gateway, scenario)] = measure(running, query, args, work)
        finally:
            running.stop()
    check_same_answers(results)
    return results


def measure(running: Running, query: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One warmed-up closed-loop run against a started gateway, with its CPU time."""
    warm = load(running.url, query, 4, 1.5, work)  # plan caches, JIT, connections
    if warm["errors"]:
        raise RuntimeError(f"{running.name}: {warm['sample'][:500]}")
    before = cpu_seconds(running.popen.pid)
    result = load(running.url, query, args.concurrency, args.seconds, work)
    result["cpu"] = cpu_seconds(running.popen.pid) - before
    return result


def check_same_answers(results: dict[tuple[str, str], dict[str, Any]]) -> None:
    for scenario in QUERIES:
        samples = {
            g: json.loads(r["sample"])["data"] for (g, s), r in results.items() if s == scenario
        }
        first = next(iter(samples.values()))
        for gateway, data in samples.items():
            if data != first:
                raise RuntimeError(f"{scenario}: {gateway} answered differently")


def print_tables(results: dict[tuple[str, str], dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.seconds:g} s per run, concurrency {args.concurrency}, one process per gateway,"
        f" {os.cpu_count()} CPUs shared with the load generator and the subgraphs\n"
    )
    print(
        f"{'query':<12} {'gateway':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU ms/req':>11} {'errors':>7}"
    )
    for scenario in QUERIES:
        for gateway in args.only:
            r = results[(gateway, scenario)]
            rps = r["requests"] / r["seconds"]
            cpu = 1000 * r["cpu"] / max(r["requests"], 1)
            r.update(rps=rps, cpu_ms=cpu)
            print(
                f"{scenario:<12} {gateway:<8} {rps:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                f"{cpu:>11.3f} {r['errors']:>7}"
            )
    peers = [g for g in args.only if g != "ours"]
    if "ours" not in args.only or not peers:
        return
    print("\nours as a ratio of each peer (throughput: higher is better; latency, CPU: lower)")
    print(f"{'query':<12} {'peer':<8} {'req/s':>8} {'p50':>8} {'p99':>8} {'CPU/req':>11}")
    for scenario in QUERIES:
        ours = results[("ours", scenario)]
        for peer in peers:
            theirs = results[(peer, scenario)]
            print(
                f"{scenario:<12} {peer:<8} {ours['rps'] / theirs['rps']:>7.2f}x "
                f"{ours['p50_ms'] / theirs['p50_ms']:>7.2f}x "
                f"{ours['p99_ms'] / theirs['p99_ms']:>7.2f}x "
                f"{ours['cpu_ms'] / theirs['cpu_ms']:>10.2f}x"
            )


if __name__ == "__main__":
    main()
