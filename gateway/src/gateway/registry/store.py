"""The registry's MongoDB collections (database ``registry`` by default).

``versions``: one document per version, ``_id`` the version number (1, 2, ...):
``{subgraphs: {name: {sdl, url}}, supergraph, supergraphSha256, source, subgraph, createdAt,
fileSha256?}``. The newest is the one served. A rollback is a new version holding an old
one's content, so history only grows.

``operations``: one document per operation signature the gateway saw:
``{name, type, fields: ["Type.field", "Type", ...], count, firstSeen, lastSeen}``.

Synchronous (PyMongo): the CLI uses it directly, the gateway from a worker thread, a few
calls a second at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pymongo import DESCENDING, MongoClient
from pymongo.errors import DuplicateKeyError


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SubgraphSchema:
    name: str
    url: str
    sdl: str


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    subgraphs: dict[str, SubgraphSchema]
    supergraph: str
    supergraph_sha256: str
    source: str
    subgraph: str | None
    created_at: dt.datetime

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Version:
        return cls(
            number=int(doc["_id"]),
            subgraphs={
                name: SubgraphSchema(name, entry["url"], entry["sdl"])
                for name, entry in doc["subgraphs"].items()
            },
            supergraph=doc["supergraph"],
            supergraph_sha256=doc["supergraphSha256"],
            source=doc.get("source", ""),
            subgraph=doc.get("subgraph"),
            created_at=doc["createdAt"],
        )


@dataclass(frozen=True, slots=True)
class OperationUsage:
    signature: str
    name: str | None
    fields: frozenset[str]
    count: int
    last_seen: dt.datetime


class RegistryStore:
    def __init__(self, url: str, database: str = "registry", timeout_ms: int = 3000) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(
            url, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, appname="crm-registry"
        )
        self.db = self.client[database]
        self.versions = self.db["versions"]
        self.operations = self.db["operations"]

    def close(self) -> None:
        self.client.close()

    # --- versions
    def latest_head(self) -> tuple[int, str] | None:
        """Number and supergraph hash of the newest version (a small read for polling)."""
        doc = self.versions.find_one(
            {}, sort=[("_id", DESCENDING)], projection={"supergraphSha256": 1}
        )
        return None if doc is None else (int(doc["_id"]), str(doc["supergraphSha256"]))

    def latest(self) -> Version | None:
        doc = self.versions.find_one({}, sort=[("_id", DESCENDING)])
        return None if doc is None else Version.from_document(doc)

    def get(self, number: int) -> Version | None:
        doc = self.versions.find_one({"_id": number})
        return None if doc is None else Version.from_document(doc)

    def history(self, limit: int = 50) -> list[Version]:
        docs = self.versions.find({}, sort=[("_id", DESCENDING)], limit=limit)
        return [Version.from_document(d) for d in docs]

    def has_file_version(self, file_sha256: str) -> bool:
        return (
            self.versions.find_one({"fileSha256": file_sha256}, projection={"_id": 1}) is not None
        )

    def add_version(
        self,
        subgraphs: Iterable[SubgraphSchema],
        supergraph: str,
        *,
        source: str,
        subgraph: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Store a new version; its number is one more than the newest (retried on a race)."""
        body: dict[str, Any] = {
            "subgraphs": {s.name: {"url": s.url, "sdl": s.sdl} for s in subgraphs},
            "supergraph": supergraph,
            "supergraphSha256": sha256_hex(supergraph),
            "source": source,
            "subgraph": subgraph,
            "createdAt": _now(),
            **(extra or {}),
        }
        for _ in range(20):
            head = self.latest_head()
            number = 1 if head is None else head[0] + 1
            try:
                self.versions.insert_one({"_id": number, **body})
            except DuplicateKeyError:
                continue  # another publisher took this number: take the next
            return number
        raise RuntimeError("could not allocate a registry version number")

    # --- operations clients sent
    def record_operations(self, entries: Iterable[dict[str, Any]]) -> None:
        now = _now()
        for entry in entries:
            self.operations.update_one(
                {"_id": entry["signature"]},
                {
                    "$set": {
                        "name": entry["name"],
                        "type": entry["type"],
                        "fields": sorted(entry["fields"]),
                        "lastSeen": now,
                    },
                    "$setOnInsert": {"firstSeen": now},
                    "$inc": {"count": entry["count"]},
                },
                upsert=True,
            )

    def operations_since(self, since: dt.datetime) -> list[OperationUsage]:
        docs = self.operations.find({"lastSeen": {"$gte": since}})
        return [
            OperationUsage(
                signature=str(d["_id"]),
                name=d.get("name"),
                fields=frozenset(d.get("fields") or ()),
                count=int(d.get("count") or 0),
                last_seen=d["lastSeen"],
            )
            for d in docs
        ]
