"""The customers' audit trail in MongoDB (``audit``): one entry per customer version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import BulkWriteError

from customers.adapters import audit_log
from customers.adapters.audit_log import AuditMover
from customers.adapters.customer_documents import Collection
from customers.domain.model import (
    AuditEntry,
)


class MongoAuditRepository:
    """The audit collection, plus the entries still pending in customer documents (a write's
    entries are in the customer document first; see adapters/audit_log.py)."""

    def __init__(self, collection: Collection, pending: AuditMover | None = None) -> None:
        self.collection = collection
        self._pending = pending

    async def add(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        documents = [audit_log.audit_document(entry) for entry in entries]
        try:
            await self.collection.insert_many(documents, ordered=False)
        except BulkWriteError as exc:  # a retried write: entries already there are fine
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise

    async def page(
        self, customer_ids: Sequence[str], first: int, after: str | None
    ) -> tuple[list[AuditEntry], bool]:
        conditions: dict[str, Any] = {"customer_id": {"$in": list(customer_ids)}}
        if after is not None:
            conditions["sort_key"] = {"$lt": after}
        cursor = self.collection.find(conditions).sort("sort_key", DESCENDING).limit(first + 1)
        documents = await cursor.to_list(None)
        if self._pending is not None:
            # Read your writes: entries not moved yet (a crash, a move in flight) count too;
            # one moved but not yet pulled is in both places, hence by id.
            by_id = {d["_id"]: d for d in documents}
            for pending in (await self._pending.pending_for(customer_ids)).values():
                for entry in pending:
                    if after is None or entry["sort_key"] < after:
                        by_id.setdefault(entry["_id"], entry)
            documents = sorted(by_id.values(), key=lambda d: d["sort_key"], reverse=True)
        entries = [audit_log.audit_from_document(d) for d in documents[:first]]
        return entries, len(documents) > first
