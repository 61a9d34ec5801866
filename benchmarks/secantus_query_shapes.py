"""Which query shapes SecantusDB (the stand-in) answers through an index, measured.

    uv run python benchmarks/secantus_query_shapes.py [--documents 30000] [--runs 5]

Starts a private SecantusDB (or uses ``MONGODB_URL`` when it answers), fills one collection
with documents shaped like the customers' search fields (a multikey array of trigrams, a
string sort key, a visibility array, a sparse fence flag), and times one ``find`` per shape
with ``limit(21)``. A shape served by an index costs about the number of documents its
indexed clause selects; a collection scan costs about the whole collection whatever the
limit (the stand-in reads every candidate before it applies the limit). Compare rows of one
run, not absolute figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from crmstack.database import ensure_mongodb  # noqa: E402


def grams(text: str) -> list[str]:
    return sorted({text[i : i + 3] for i in range(len(text) - 2)})


def fill(collection: Any, count: int) -> None:
    rng = random.Random(3)
    batch = []
    for i in range(count):
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(6)) + f" x{i}"
        if i % 10 == 0:
            name = "muller " + name
        key = f"{rng.random():.9f}\x00{i:08d}"
        batch.append(
            {
                "_id": f"{i:08d}",
                "name_search": name,
                "grams": grams(name),
                "sort_key": key,
                "sort_id": f"{i:08d}",
                "visibility": [f"owner:rep-{i % 50}", f"team:team-{i % 5}"],
                "lifecycle": ["LEAD", "PROSPECT", "CUSTOMER", "CHURNED"][i % 4],
                **({"fence": True} if i % 1000 == 0 else {}),
                **({"search_version": 2} if i % 2 else {}),
            }
        )
        if len(batch) == 1000:
            collection.insert_many(batch, ordered=False)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=False)
    for field in ("grams", "sort_key", "sort_id", "visibility", "search_version"):
        collection.create_index([(field, ASCENDING)])
    collection.create_index([("fence", ASCENDING)], sparse=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="shapes-"))
    database = ensure_mongodb(None, None, log_dir)
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(database.url)
        collection = client["shapes"]["docs"]
        collection.drop()
        started = time.perf_counter()
        fill(collection, args.documents)
        print(f"filled {args.documents} documents in {time.perf_counter() - started:.1f} s")
        mid = f"{args.documents // 2:08d}"
        shapes: list[tuple[str, dict[str, Any], str | None]] = [
            ("equality on a multikey array {grams: 'mul'} (10%)", {"grams": "mul"}, None),
            ("equality on a multikey array, rare gram", {"grams": "x12"}, None),
            ("$all on the multikey array", {"grams": {"$all": ["mul", "ull"]}}, None),
            ("$in on the multikey array (rare)", {"grams": {"$in": ["x12", "x13"]}}, None),
            (
                "indexed equality + $regex post-filter",
                {"grams": "x12", "name_search": {"$regex": "x123"}},
                None,
            ),
            (
                "$regex first, indexed equality second",
                {"name_search": {"$regex": "x123"}, "grams": "x12"},
                None,
            ),
            ("$regex alone (substring)", {"name_search": {"$regex": "x123"}}, None),
            (
                "$and of two indexed equalities",
                {"$and": [{"grams": "x12"}, {"grams": "123"}]},
                None,
            ),
            ("range on _id, open above", {"_id": {"$gt": mid}}, "_id"),
            (
                "range on _id, 30 wide",
                {"_id": {"$gt": mid, "$lt": f"{args.documents // 2 + 30:08d}"}},
                "_id",
            ),
            ("range on an indexed copy of _id, open above", {"sort_id": {"$gt": mid}}, "sort_id"),
            (
                "range on an indexed copy of _id, 30 wide",
                {"sort_id": {"$gt": mid, "$lt": f"{args.documents // 2 + 30:08d}"}},
                "sort_id",
            ),
            (
                "narrow range + $in post-filter (range first)",
                {
                    "sort_id": {"$gt": mid, "$lt": f"{args.documents // 2 + 300:08d}"},
                    "visibility": {"$in": ["team:team-1"]},
                },
                "sort_id",
            ),
            ("no filter, sorted, limit 21", {}, "sort_key"),
            ("visibility equality (2%)", {"visibility": "owner:rep-7"}, "sort_key"),
            ("sparse fence flag {fence: true}", {"fence": True}, None),
            (
                "search_version $in [null, 1] (missing = null)",
                {"search_version": {"$in": [None, 1]}},
                None,
            ),
            ("$exists: false", {"search_version": {"$exists": False}}, None),
        ]
        rows = []
        for label, flt, sort in shapes:
            timings = []
            found = 0
            for _ in range(args.runs):
                cursor = collection.find(flt, {"_id": 1}).limit(21)
                if sort:
                    cursor = cursor.sort(sort, ASCENDING)
                began = time.perf_counter()
                found = len(cursor.to_list())
                timings.append((time.perf_counter() - began) * 1000)
            rows.append((label, found, statistics.median(timings)))
        counts = []
        for label, flt in [
            ("count_documents {grams: 'mul'}", {"grams": "mul"}),
            ("count_documents {} ", {}),
            ("estimated_document_count", None),
        ]:
            began = time.perf_counter()
            n = (
                collection.estimated_document_count()
                if flt is None
                else collection.count_documents(flt)
            )
            counts.append((label, n, (time.perf_counter() - began) * 1000))
        width = max(len(r[0]) for r in rows + counts)
        print(f"\nfind(...).limit(21) over {args.documents} documents, median of {args.runs} (ms)")
        print(f"| {'shape'.ljust(width)} | found | ms |")
        for label, found, ms in rows + counts:
            print(f"| {label.ljust(width)} | {found:5} | {ms:8.1f} |")
        client.close()
    finally:
        database.stop()


if __name__ == "__main__":
    main()
