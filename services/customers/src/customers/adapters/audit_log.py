"""Audit entries travel inside the customer document, like its events.

A change of a stored customer writes its audit entries in the same single-document write as the
change (``audit_outbox``: entries in the audit collection's own form, ``audit_pending``: a
sparse-indexed flag), so no crash can keep the change and lose who made it. ``AuditMover`` then
copies them into the ``audit`` collection (``_id`` = ``<customer id>:<version>``, so a copy made
twice is one entry), removes exactly the copied ones with ``$pull`` and clears the flag only if
nothing was appended meanwhile: the relay's pattern (``crm_common.outbox``), with a database as
the target.

A new customer is the exception: its entries are inserted into ``audit`` BEFORE the customer
document (``insert_first``). A crash in between leaves an entry of a customer that was never
stored (invisible: nobody can ask for an id that exists nowhere), never a customer without its
entry; an insert refused (a taken external id) removes its entries again. Why: moving entries
out of documents costs an update of each document; on the stand-in, ``$pull`` and ``$unset``
over 500 fresh documents took 11 s and 10 s against 5 s for inserting them, and a 1,000-row
import went from 7-14 s to 80-96 s when new customers carried their entries in the document.

The write path moves its own entries at once (``move``); ``sweep`` (at start and periodically)
moves what a crash left behind. Until then readers merge the pending entries in
(``pending_for``), so ``Customer.audit`` reads its own writes.

Without transactions on purpose: the stand-in (SecantusDB) runs them but blocks other writers
instead of failing them as MongoDB does, and the single-document write needs none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from customers.domain.model import AuditEntry, FieldChange

log = logging.getLogger(__name__)

Collection = AsyncCollection[dict[str, Any]]

AUDIT_OUTBOX = "audit_outbox"
AUDIT_PENDING = "audit_pending"


def audit_key(entry: AuditEntry) -> str:
    """Newest first across a customer and the customers merged into it."""
    return f"{entry.at.astimezone(UTC).isoformat()}\x00{entry.id}"


def audit_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "_id": entry.id,
        "customer_id": entry.customer_id,
        "version": entry.version,
        "action": entry.action,
        "changes": [{"field": c.field, "from": c.before, "to": c.after} for c in entry.changes],
        "at": entry.at,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "note": entry.note,
        "sort_key": audit_key(entry),
    }


def audit_from_document(document: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        customer_id=document["customer_id"],
        version=document["version"],
        action=document["action"],
        changes=tuple(FieldChange(c["field"], c["from"], c["to"]) for c in document["changes"]),
        at=document["at"],
        actor_id=document.get("actor_id"),
        actor_name=document.get("actor_name"),
        note=document.get("note"),
    )


def pending_fields(entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """The fields a new customer document carries for its audit entries."""
    if not entries:
        return {}
    return {AUDIT_OUTBOX: [audit_document(e) for e in entries], AUDIT_PENDING: True}


def push_update(entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """The part of an update that appends audit entries (merge it into the update)."""
    if not entries:
        return {}
    return {
        "$push": {AUDIT_OUTBOX: {"$each": [audit_document(e) for e in entries]}},
        "$set": {AUDIT_PENDING: True},
    }


class AuditMover:
    def __init__(self, customers: Collection, audit: Collection, *, batch_size: int = 500) -> None:
        self._customers = customers
        self._audit = audit
        self._batch_size = batch_size

    async def insert_first(self, entries: Sequence[AuditEntry]) -> None:
        """The entries of customers about to be inserted (see the module)."""
        await self._insert([audit_document(entry) for entry in entries])

    async def forget(self, entries: Sequence[AuditEntry]) -> None:
        """The entries of customers whose insert was refused after ``insert_first``."""
        if entries:
            await self._audit.delete_many({"_id": {"$in": [entry.id for entry in entries]}})

    async def _insert(self, documents: list[dict[str, Any]]) -> None:
        if not documents:
            return
        try:
            await self._audit.insert_many(documents, ordered=False)
        except BulkWriteError as exc:  # copied before (a crash, a sweep): the same entry
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise

    async def move(self, pending: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Copies the given pending entries (per customer id) and removes them from the
        customer documents. Safe to repeat, safe against concurrent appends."""
        documents = [dict(entry) for entries in pending.values() for entry in entries]
        if not documents:
            return
        await self._insert(documents)
        if len(pending) == 1:
            # The usual case, one write: the document holds exactly these entries (count and
            # ids), so removing the whole array loses nothing appended meanwhile.
            [(customer_id, entries)] = pending.items()
            done = await self._customers.update_one(
                {
                    "_id": customer_id,
                    AUDIT_OUTBOX: {"$size": len(entries)},
                    f"{AUDIT_OUTBOX}._id": {"$all": [entry["_id"] for entry in entries]},
                },
                {"$unset": {AUDIT_OUTBOX: "", AUDIT_PENDING: ""}},
            )
            if done.modified_count:
                return
        ids = list(pending)
        await self._customers.update_many(
            {"_id": {"$in": ids}},
            {"$pull": {AUDIT_OUTBOX: {"_id": {"$in": [d["_id"] for d in documents]}}}},
        )
        await self._customers.update_many(
            {"_id": {"$in": ids}, AUDIT_OUTBOX: {"$size": 0}},
            {"$unset": {AUDIT_OUTBOX: "", AUDIT_PENDING: ""}},
        )

    async def move_for(self, customer_ids: Sequence[str]) -> None:
        """Moves whatever is pending on these customers (before their documents go away)."""
        await self.move(await self.pending_for(customer_ids))

    async def pending_for(self, customer_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        if not customer_ids:
            return {}
        cursor = self._customers.find(
            {"_id": {"$in": list(customer_ids)}, AUDIT_PENDING: True}, {AUDIT_OUTBOX: 1}
        )
        return {d["_id"]: list(d.get(AUDIT_OUTBOX) or []) async for d in cursor}

    async def sweep(self) -> int:
        """Moves every pending entry left behind; returns how many documents had some."""
        moved = 0
        while True:
            cursor = self._customers.find(
                {AUDIT_PENDING: True}, {AUDIT_OUTBOX: 1}, limit=self._batch_size
            )
            pending = {d["_id"]: list(d.get(AUDIT_OUTBOX) or []) async for d in cursor}
            if not pending:
                return moved
            await self.move(pending)
            moved += len(pending)
            if len(pending) < self._batch_size:
                return moved

    async def run(self, interval: float) -> None:
        """Sweeps every ``interval`` seconds until cancelled; a failed sweep is retried."""
        while True:
            await asyncio.sleep(interval)
            try:
                swept = await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next sweep tries again; nothing is lost meanwhile
                log.warning("audit sweep failed; retrying", extra={"error": repr(exc)})
                continue
            if swept:
                log.info("audit entries moved by the sweep", extra={"documents": swept})
