"""``customers(filter)`` through the gateway over a large archive.

    uv run python benchmarks/customers_search.py [--customers 200000] [--runs 30]

Fills the customers database of a fresh suite directly with ``insert_many`` in the service's
own document shape (``to_document`` of ``Customer.create``, so every search field, gram and
index entry is what the service writes), then times, through the gateway, a page of 20: name
fragments (``nameContains``: any substring of the name, case and accents folded; the rarest
of its trigrams is one indexed lookup, a substring test on the folded name decides), e-mail
and phone fragments (the same, on their own grams), ``search`` (word prefixes over name,
e-mails and phones), a fragment matching nothing, unfiltered first pages in each sort and a
page after a cursor (read in windows of the sort key between sampled keys), and the first
page of a manager (a team: windows) and of a rep (own customers: the visibility index).
Each query asks for ``totalCount`` too (which counts every match; the estimated count when
an admin filters nothing). Compare the rows of one run, not absolute figures: the stand-in
is not MongoDB.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import httpx
from customers_common import percentiles, suite, table, token
from pymongo import MongoClient

from customers.adapters.customer_documents import to_document
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
query($filter: CustomerFilter, $sort: CustomerSort, $after: String) {
  customers(filter: $filter, first: 20, sort: $sort, after: $after) {
    totalCount pageInfo { endCursor } edges { node { id name email } }
  }
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
        admin = token("admin")
        by_name = {"field": "NAME", "direction": "ASC"}
        newest = {"field": "CREATED_AT", "direction": "DESC"}
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("nameContains 'garcía rob'", {"filter": {"nameContains": "garcía rob"}}, admin),
            ("nameContains 'MULL'", {"filter": {"nameContains": "MULL"}}, admin),
            ("nameContains 'uller' (mid-word)", {"filter": {"nameContains": "uller"}}, admin),
            ("nameContains 'robotics 1234'", {"filter": {"nameContains": "robotics 1234"}}, admin),
            ("nameContains 'zzzz' (no match)", {"filter": {"nameContains": "zzzz"}}, admin),
            ("emailContains 'ample42.c'", {"filter": {"emailContains": "ample42.c"}}, admin),
            ("emailContains '4242@'", {"filter": {"emailContains": "4242@"}}, admin),
            ("phoneContains '3010424'", {"filter": {"phoneContains": "3010424"}}, admin),
            ("search 'garcia rob'", {"filter": {"search": "garcia rob"}}, admin),
            ("search 'c4242'", {"filter": {"search": "c4242"}}, admin),
            ("no filter, first page (ID)", {}, admin),
            ("no filter, first page by NAME", {"sort": by_name}, admin),
            ("no filter, page 2 by NAME (cursor)", {"sort": by_name, "after": "page-1"}, admin),
            ("no filter, first page CREATED_AT DESC", {"sort": newest}, admin),
            ("manager (team-1), first page", {}, token("manager", "bench-manager", "team-1")),
            ("rep (rep-7), first page by NAME", {"sort": by_name}, token("rep", "rep-7", None)),
        ]
        rows = []
        with httpx.Client(timeout=300) as client:

            def post(variables: dict[str, Any], bearer: str) -> dict[str, Any]:
                response = client.post(
                    running.gateway_url,
                    json={"query": QUERY, "variables": variables},
                    headers={"Authorization": f"Bearer {bearer}"},
                )
                body: dict[str, Any] = response.json()
                return body

            for label, variables, bearer in cases:
                if variables.get("after") == "page-1":  # the end cursor of the first page
                    first_page = post({**variables, "after": None}, bearer)
                    cursor = first_page["data"]["customers"]["pageInfo"]["endCursor"]
                    variables = {**variables, "after": cursor}
                timings = []
                total: object = 0
                for _ in range(args.runs):
                    started = time.perf_counter()
                    body = post(variables, bearer)
                    timings.append((time.perf_counter() - started) * 1000)
                    if body.get("errors"):
                        total = "error: " + body["errors"][0]["message"][:60]
                        break
                    total = body["data"]["customers"]["totalCount"]
                ordered = sorted(timings)
                p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
                p50, _, worst = percentiles(timings)
                rows.append([label, total, f"{p50:.0f}", f"{p90:.0f}", f"{worst:.0f}"])
    table(
        f"customers(filter, first: 20) through the gateway over {args.customers} customers "
        f"({args.runs} runs each, ms)",
        ["case", "totalCount", "p50", "p90", "max"],
        rows,
    )


if __name__ == "__main__":
    main()
