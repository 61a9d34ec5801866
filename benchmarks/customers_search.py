"""``customers(filter)`` through the gateway over a large archive.

    uv run python benchmarks/customers_search.py [--customers 200000] [--runs 30]

Fills the customers database of a fresh suite directly with ``insert_many`` in the service's
own document shape (``to_document`` of ``Customer.create``, so every search field and index
entry is what the service writes), then times, through the gateway, as an admin: a page of 20
with a name fragment (``nameContains``: the start of a word or words of the name, case and
accents folded; the longest word narrows through the token index, a regular expression on the
folded name checks the rest), the same words as ``search`` (word prefixes over name, e-mails
and phones), an e-mail prefix, a fragment matching nothing, and an unfiltered page. Each
query asks for ``totalCount`` too (which counts every match). Compare the rows of one run,
not absolute figures: the stand-in is not MongoDB.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import httpx
from customers_common import percentiles, suite, table, token
from pymongo import MongoClient

from customers.adapters.mongo_repository import to_document
from customers.domain.model import Customer, CustomerKind, LifecycleStage

FIRST = [
    "Anna",
    "Björn",
    "Chloé",
    "Dmitri",
    "Élodie",
    "Farid",
    "Greta",
    "Hiroshi",
    "Ines",
    "Jürgen",
]
LAST = ["Müller", "Schmidt", "García", "Nguyen", "Kowalski", "Rossi", "Dubois", "Øster", "Silva"]
WORDS = ["Logistics", "Bakery", "Consulting", "Robotics", "Textiles", "Foods", "Media", "Labs"]

QUERY = """
query($filter: CustomerFilter) {
  customers(filter: $filter, first: 20) { totalCount edges { node { id name email } } }
}"""


def fill(url: str, database: str, count: int) -> float:
    client: MongoClient[dict[str, Any]] = MongoClient(url)
    collection = client[database]["customers"]
    rng = random.Random(7)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for i in range(count):
        if i % 3 == 0:
            name = f"{rng.choice(LAST)} {rng.choice(WORDS)} {i}"
            kind = CustomerKind.COMPANY
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}"
            kind = CustomerKind.PERSON
        customer = Customer.create(
            kind=kind,
            name=name,
            owner_id=f"rep-{i % 50}",
            email=f"c{i}@example{i % 100}.com",
            phone=f"+49 30 {1000000 + i}",
            lifecycle=list(LifecycleStage)[i % 4],
            tags=["bench", f"t{i % 10}"],
            team=f"team-{i % 5}",
        )
        batch.append(to_document(customer))
        if len(batch) == 1000:
            collection.insert_many(batch, ordered=False)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=False)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with suite() as running:
        database = running.env()["CUSTOMERS_DATABASE"]
        seconds = fill(running.mongodb_url, database, args.customers)
        print(f"inserted {args.customers} customers in {seconds:.0f} s")
        bearer = token("admin")
        cases = [
            ("nameContains 'garcía rob'", {"nameContains": "garcía rob"}),
            ("nameContains 'MULL'", {"nameContains": "MULL"}),
            ("nameContains 'robotics 1234'", {"nameContains": "robotics 1234"}),
            ("search 'garcia rob'", {"search": "garcia rob"}),
            ("search 'c4242'", {"search": "c4242"}),
            ("nameContains 'zzzz' (no match)", {"nameContains": "zzzz"}),
            ("no filter", None),
        ]
        rows = []
        with httpx.Client(timeout=300) as client:
            for label, flt in cases:
                timings = []
                total: object = 0
                for _ in range(args.runs):
                    started = time.perf_counter()
                    response = client.post(
                        running.gateway_url,
                        json={"query": QUERY, "variables": {"filter": flt}},
                        headers={"Authorization": f"Bearer {bearer}"},
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                    body = response.json()
                    if body.get("errors"):
                        total = "error: " + body["errors"][0]["message"][:60]
                        break
                    total = body["data"]["customers"]["totalCount"]
                p50, p95, worst = percentiles(timings)
                rows.append([label, total, f"{p50:.0f}", f"{p95:.0f}", f"{worst:.0f}"])
    table(
        f"customers(filter, first: 20) through the gateway over {args.customers} customers "
        f"({args.runs} runs each, ms)",
        ["filter", "totalCount", "p50", "p95", "max"],
        rows,
    )


if __name__ == "__main__":
    main()
