"""What the customer archive's integrity relies on, checked on the database in use: a unique
partial index (duplicate key on insert, bulk insert and update; partial: absent and null keys
never collide; refusal to build over duplicates; 20 concurrent inserts of one key store one),
``$pull`` of sub-documents by id with a conditional ``$unset`` (the outbox and audit moves),
and whether multi-document transactions run (they are not relied on).

    uv run python benchmarks/secantus_unique_index.py   # MONGODB_URL if it answers, else a stand-in

Prints one line per property: ``ok`` or what differs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from crmstack.database import ensure_mongodb  # noqa: E402

PARTIAL = {"external_id": {"$type": "string"}}


def say(name: str, verdict: str) -> None:
    print(f"{name:<58} {verdict}")


async def check(url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    database = client[f"probe_{uuid.uuid4().hex[:8]}"]
    try:
        x = database["x"]
        await x.create_index(
            [("external_id", ASCENDING)], name="u", unique=True, partialFilterExpression=PARTIAL
        )
        await x.insert_one({"_id": 1, "external_id": "a"})
        try:
            await x.insert_one({"_id": 2, "external_id": "a"})
            say("unique: second insert of a key", "ACCEPTED (not enforced)")
        except DuplicateKeyError as exc:
            say(
                "unique: second insert of a key",
                f"ok (E{exc.code}, keyPattern in details: {'keyPattern' in (exc.details or {})})",
            )
        await x.insert_many([{"_id": 3}, {"_id": 4}, {"_id": 5, "external_id": None}])
        await x.insert_one({"_id": 6, "external_id": None})
        say("partial: absent and null keys never collide", "ok")
        try:
            await x.insert_many(
                [{"_id": 7, "external_id": "b"}, {"_id": 8, "external_id": "b"}], ordered=False
            )
            say("unique: bulk insert (unordered)", "ACCEPTED (not enforced)")
        except BulkWriteError as exc:
            errors = [(e["index"], e["code"]) for e in exc.details["writeErrors"]]
            say("unique: bulk insert (unordered)", f"ok ({errors}, {exc.details['nInserted']} in)")
        try:
            await x.update_one({"_id": 3}, {"$set": {"external_id": "a"}})
            say("unique: update to a taken key", "ACCEPTED (not enforced)")
        except DuplicateKeyError:
            say("unique: update to a taken key", "ok")
        y = database["y"]
        await y.create_index(
            [("external_id", ASCENDING)], name="u", unique=True, partialFilterExpression=PARTIAL
        )

        async def insert(n: int) -> bool:
            try:
                await y.insert_one({"_id": n, "external_id": "same"})
            except DuplicateKeyError:
                return False
            return True

        stored = sum(await asyncio.gather(*(insert(n) for n in range(20))))
        say("unique: 20 concurrent inserts of one key", f"{stored} stored")
        z = database["z"]
        await z.insert_many([{"_id": 1, "e": "q"}, {"_id": 2, "e": "q"}])
        try:
            await z.create_index([("e", ASCENDING)], unique=True, name="u")
            say("unique: build over duplicates", "BUILT (duplicates kept)")
        except OperationFailure as exc:
            say("unique: build over duplicates", f"ok (refused, E{exc.code})")
        w = database["w"]
        await w.insert_one({"_id": "d", "q": [{"_id": "1"}, {"_id": "2"}], "p": True})
        await w.update_many({"_id": {"$in": ["d"]}}, {"$pull": {"q": {"_id": {"$in": ["1"]}}}})
        kept = await w.update_many({"_id": "d", "q": {"$size": 0}}, {"$unset": {"q": "", "p": ""}})
        await w.update_many({"_id": {"$in": ["d"]}}, {"$pull": {"q": {"_id": {"$in": ["2"]}}}})
        gone = await w.update_many({"_id": "d", "q": {"$size": 0}}, {"$unset": {"q": "", "p": ""}})
        say(
            "$pull by sub-document id, $unset only when empty",
            "ok" if (kept.modified_count, gone.modified_count) == (0, 1) else "DIFFERS",
        )
        await w.insert_one({"_id": "e", "q": [{"_id": "1"}]})
        size = await w.count_documents({"_id": "e", "q": {"$size": 1}})
        every = await w.count_documents({"_id": "e", "q._id": {"$all": ["1"]}})
        both = await w.count_documents({"_id": "e", "q": {"$size": 1}, "q._id": {"$all": ["1"]}})
        say(
            "$size, $all on a sub-document path, both (MongoDB: 1 1 1)",
            f"{size} {every} {both}",
        )
        t = database["t"]
        await t.insert_one({"_id": "k", "n": 0})
        try:
            async with client.start_session() as session:
                await session.start_transaction()
                await t.insert_one({"_id": "in-tx"}, session=session)
                await t.update_one({"_id": "k"}, {"$inc": {"n": 1}}, session=session)
                seen = await t.count_documents({"_id": "in-tx"})
                started = time.monotonic()
                try:
                    async with asyncio.timeout(2):
                        await t.update_one({"_id": "k"}, {"$inc": {"n": 1}})
                    outside = "an outside write of a document in it went through"
                except TimeoutError:
                    waited = time.monotonic() - started
                    outside = f"an outside write of a document in it waited {waited:.1f}s+"
                await session.abort_transaction()
            after = await t.count_documents({"_id": "in-tx"})
            say(
                "transactions (not relied on)",
                f"run; uncommitted visible outside: {bool(seen)}; after abort: {bool(after)}; "
                f"{outside}",
            )
        except OperationFailure as exc:
            say("transactions (not relied on)", f"refused ({exc.code})")
    finally:
        await client.drop_database(database.name)
        await client.close()


def main() -> None:
    log_dir = Path(tempfile.mkdtemp(prefix="secantus-unique-"))
    database = ensure_mongodb(os.environ.get("MONGODB_URL"), None, log_dir)
    try:
        print(f"database: {database.url}")
        asyncio.run(check(database.url))
    finally:
        database.stop()


if __name__ == "__main__":
    main()
