"""``_entities`` with 1,000 customer representations, on the customers subgraph.

    uv run python benchmarks/customers_entities.py [--runs 30]

Creates 1,000 customers (50 aliased mutations per request), then times ``_entities`` with all
1,000 (shuffled) representations, with 1,000 representations of only 100 distinct customers,
and with 1,000 of which 100 are merged ids (they resolve to their survivors in the same
query). The MongoDB command count comes from the service's ``/metrics``
(``crm_mongo_commands_total``), read before and after each run: ``find`` is what a request
costs; "other commands" are whatever else the process sent meanwhile (the outbox relay's
periodic sweep), not caused by the request.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import httpx
from customers_common import mongo_commands, percentiles, suite, table, token

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id name } } }"


def main() -> None:
    # No periodic outbox sweep during the runs: its finds would blur the count per request.
    os.environ["CUSTOMERS_RELAY_POLL_INTERVAL"] = "600"
    # Nor the recovery pass that finishes interrupted merges and transfers (one at start).
    os.environ["CUSTOMERS_RECOVERY_INTERVAL"] = "600"
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with suite() as running:
        url = running.subgraph_url("customers")
        metrics = f"http://127.0.0.1:{running.ports['customers']}/metrics"
        database = running.env()["CUSTOMERS_DATABASE"]
        headers = {"Authorization": f"Bearer {token('admin')}"}
        ids: list[str] = []
        with httpx.Client(timeout=300, headers=headers) as client:
            for batch in range(20):
                aliases = "\n".join(
                    f'c{i}: createCustomer(input: {{kind: PERSON, name: "E {batch}-{i}", '
                    f'email: "e{batch}-{i}@example.com"}}) {{ id }}'
                    for i in range(50)
                )
                body = client.post(url, json={"query": f"mutation {{ {aliases} }}"}).json()
                ids += [body["data"][f"c{i}"]["id"] for i in range(50)]
            # 100 pairs merged: the sources' ids now resolve to their targets.
            for n in range(100):
                target, source = ids[2 * n], ids[2 * n + 1]
                merged = client.post(
                    url,
                    json={
                        "query": "mutation($t: ID!, $s: [ID!]!) { mergeCustomers(targetId: $t,"
                        " sourceIds: $s) { mergedIds } }",
                        "variables": {"t": target, "s": [source]},
                    },
                ).json()
                assert not merged.get("errors"), merged
            live = [i for n, i in enumerate(ids) if n >= 200 or n % 2 == 0]
            merged_ids = [ids[2 * n + 1] for n in range(100)]
            rng = random.Random(3)
            cases = {
                "1,000 distinct ids": rng.sample(live, len(live)) + merged_ids[:100],
                "1,000 of 100 distinct ids": [live[n % 100] for n in range(1000)],
                "900 ids + 100 merged ids": live[:900] + merged_ids,
            }
            rows = []
            for label, wanted in cases.items():
                representations = [{"__typename": "Customer", "id": i} for i in wanted]
                timings: list[float] = []
                finds: list[float] = []
                others: list[float] = []
                for _ in range(args.runs):
                    before = mongo_commands(metrics, database)
                    started = time.perf_counter()
                    body = client.post(
                        url, json={"query": ENTITIES, "variables": {"r": representations}}
                    ).json()
                    timings.append((time.perf_counter() - started) * 1000)
                    after = mongo_commands(metrics, database)
                    assert not body.get("errors"), body
                    assert len(body["data"]["_entities"]) == len(representations)
                    assert all(e is not None for e in body["data"]["_entities"])
                    finds.append(after.get("find", 0) - before.get("find", 0))
                    others.append(sum(after.values()) - sum(before.values()) - finds[-1])
                p50, p95, worst = percentiles(timings)
                rows.append(
                    [
                        label,
                        len(representations),
                        f"{p50:.0f}",
                        f"{p95:.0f}",
                        f"{worst:.0f}",
                        f"{min(finds):.0f}-{max(finds):.0f}",
                        f"{min(others):.0f}-{max(others):.0f}",
                    ]
                )
    table(
        f"_entities on the customers subgraph ({args.runs} runs each; latency in ms)",
        ["representations", "count", "p50", "p95", "max", "finds / request", "other commands"],
        rows,
    )


if __name__ == "__main__":
    main()
