"""Schema changes shipped by a team, measured: from ``crm-graph publish`` to the new field being
served, and the requests that failed while the gateway swapped supergraphs under load.

    uv run python benchmarks/gateway_swap.py [--publishes 6] [--threads 4] [--poll 2.0]

Starts the whole suite on throw-away infrastructure (as the tests do), restarts its gateway
with ``GATEWAY_REGISTRY_POLL_SECONDS=--poll``, then keeps ``--threads`` clients sending a
board-and-pipelines query (admin token, keep-alive) while it publishes the pipeline subgraph's
schema ``--publishes`` times, alternately with and without a probe field. For each publish:
how long the command took (it composes with @apollo/composition on Node and writes a new
registry version), and the time from the command's start until introspection shows the change
(polled every 50 ms). A request fails when it is not HTTP 200 or carries errors.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from crmstack.suite import Suite, make_token, throwaway_suite  # noqa: E402

PIPELINE_SDL = ROOT / "contracts" / "subgraphs" / "pipeline.graphql"
CRM_GRAPH = Path(sys.executable).parent / "crm-graph"
LOAD_QUERY = "{ pipelines { id name stages { id name } } }"
PROBE = "swapBenchmarkProbe"


class Load:
    """Closed-loop clients counting requests and failures until stopped."""

    def __init__(self, url: str, token: str, threads: int) -> None:
        self.url = url
        self.headers = {"authorization": f"Bearer {token}"}
        self.requests = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._done.is_set():
                try:
                    response = client.post(
                        self.url, json={"query": LOAD_QUERY}, headers=self.headers
                    )
                    failed = response.status_code != 200 or "errors" in response.json()
                    detail = response.text[:200]
                except httpx.HTTPError as exc:
                    failed, detail = True, repr(exc)
                with self._lock:
                    self.requests += 1
                    if failed:
                        self.failures.append(detail)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join()


def served_fields(url: str, token: str) -> set[str]:
    response = httpx.post(
        url,
        json={"query": '{ __type(name: "Query") { fields { name } } }'},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    return {f["name"] for f in response.json()["data"]["__type"]["fields"]}


def publish(suite: Suite, schema: Path) -> None:
    completed = subprocess.run(
        [str(CRM_GRAPH), "--registry", suite.mongodb_url, "--database",
         f"registry{suite.database_suffix}", "publish", "--subgraph", "pipeline",
         "--schema", str(schema)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(completed.stdout + completed.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--publishes", type=int, default=6)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="swap-bench-"))
    added = work / "pipeline-added.graphql"
    added.write_text(
        PIPELINE_SDL.read_text().replace("type Query {", f"type Query {{\n  {PROBE}: String", 1)
    )
    token = make_token("admin", "bench-admin", None)
    rows: list[tuple[int, str, float, float]] = []
    with throwaway_suite(ROOT / ".run" / f"bench-logs-swap-{int(time.time())}") as suite:
        suite.stop("gateway")
        suite.start("gateway", env={"GATEWAY_REGISTRY_POLL_SECONDS": str(args.poll)})
        url = suite.gateway_url
        # The registry is seeded from the file on the gateway's first contact.
        health = url.removesuffix("/graphql") + "/health"
        while httpx.get(health, timeout=5).json().get("registry") != "ok":
            time.sleep(0.1)
        with Load(url, token, args.threads) as load:
            time.sleep(2)  # a steady load before the first swap
            for number in range(args.publishes):
                with_probe = number % 2 == 0
                started = time.monotonic()
                publish(suite, added if with_probe else PIPELINE_SDL)
                command = time.monotonic() - started
                deadline = started + 60
                while (PROBE in served_fields(url, token)) != with_probe:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the published schema was not served in 60 s")
                    time.sleep(0.05)
                served = time.monotonic() - started
                rows.append((number + 1, "add" if with_probe else "remove", command, served))
            time.sleep(2)
        total, failed = load.requests, len(load.failures)
    print(
        f"\n{args.publishes} publishes of the pipeline subgraph under {args.threads} clients,"
        f" registry poll {args.poll:g} s\n"
    )
    print("| publish | change | `crm-graph publish` (s) | publish start → served (s) |")
    print("|---|---|---|---|")
    for number, change, command, served in rows:
        print(f"| {number} | {change} {PROBE} | {command:.2f} | {served:.2f} |")
    print(
        f"| median | | {statistics.median(r[2] for r in rows):.2f} |"
        f" {statistics.median(r[3] for r in rows):.2f} |"
    )
    print(f"\nrequests during the run: {total}, failed: {failed}")
    for failure in load.failures[:5]:
        print(f"  {failure}")


if __name__ == "__main__":
    main()
