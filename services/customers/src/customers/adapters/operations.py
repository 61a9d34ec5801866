"""The operation log of merges and transfers, and the transfer records, in MongoDB.

- ``operations`` (``_id`` = the operation id): the intent and plan of a command that spans
  several writes, its progress, and its result once DONE. Written before the first write of the
  command; ``service_layer/operations.py`` finishes what a crash left PENDING.
- ``transfers`` (``_id`` = the transfer id, the same for the same owners): every run, every
  customer it ever moved, and its own outbox. A run is recorded with its event in ONE write,
  at most once per run id, so the ``customers.ownership.transferred`` event of a run is never
  lost (a crash before that write: the run is finished again) and never doubled by a resumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.outbox import OUTBOX, OUTBOX_PENDING, OutboxListener, with_outbox_append
from customers.adapters.faults import crash_point
from customers.adapters.outbox import outbox_entry
from customers.domain.events import OwnershipTransferred
from customers.domain.values import utcnow
from customers.service_layer.ports import Operation, TransferRecord

Collection = AsyncCollection[dict[str, Any]]

OPERATIONS = "operations"
PENDING, DONE, FAILED = "PENDING", "DONE", "FAILED"


async def create_operation_indexes(database: AsyncDatabase[dict[str, Any]]) -> None:
    await database[OPERATIONS].create_index(
        [("state", ASCENDING), ("updated_at", ASCENDING)], name="state_updated"
    )


def _from_document(document: dict[str, Any]) -> Operation:
    return Operation(
        id=document["_id"],
        kind=document["kind"],
        plan=document["plan"],
        state=document["state"],
        progress=document.get("progress"),
        result=document.get("result"),
        error=document.get("error"),
        created_at=document.get("created_at"),
    )


class MongoOperationLog:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def begin(self, operation: Operation) -> Operation:
        now = utcnow()
        document = {
            "_id": operation.id,
            "kind": operation.kind,
            "plan": operation.plan,
            "state": PENDING,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self.collection.insert_one(document)
            return _from_document(document)
        except DuplicateKeyError:
            pass
        # The same operation asked again (a retry, a concurrent twin): that one goes on,
        # unless it failed, then this plan replaces it.
        await self.collection.replace_one({"_id": operation.id, "state": FAILED}, document)
        existing = await self.get(operation.id)
        if existing is None:  # cannot happen: operations are never deleted
            raise RuntimeError(f"operation {operation.id} vanished")
        return existing

    async def get(self, operation_id: str) -> Operation | None:
        document = await self.collection.find_one({"_id": operation_id})
        return None if document is None else _from_document(document)

    async def progress(self, operation_id: str, progress: dict[str, Any], step: str) -> None:
        await self.collection.update_one(
            {"_id": operation_id, "state": PENDING},
            {"$set": {"progress": progress, "step": step, "updated_at": utcnow()}},
        )
        crash_point(step)  # the tests stop a process here (adapters/faults.py)

    async def finish(self, operation_id: str, result: dict[str, Any]) -> None:
        await self.collection.update_one(
            {"_id": operation_id, "state": PENDING},
            {"$set": {"state": DONE, "result": result, "updated_at": utcnow()}},
        )

    async def fail(self, operation_id: str, error: str) -> None:
        await self.collection.update_one(
            {"_id": operation_id, "state": PENDING},
            {"$set": {"state": FAILED, "error": error, "updated_at": utcnow()}},
        )

    async def unfinished(self, idle_seconds: float) -> list[Operation]:
        conditions: dict[str, Any] = {"state": PENDING}
        if idle_seconds > 0:
            conditions["updated_at"] = {"$lt": utcnow() - timedelta(seconds=idle_seconds)}
        cursor = self.collection.find(conditions).sort("updated_at", ASCENDING).limit(100)
        return [_from_document(document) async for document in cursor]


class MongoTransferLog:
    """The ``transfers`` collection (``TransferRepository``)."""

    def __init__(self, collection: Collection, outbox_listener: OutboxListener | None) -> None:
        self.collection = collection
        self._listener = outbox_listener

    async def record(
        self,
        transfer_id: str,
        run_id: str,
        from_owner: str,
        to_owner: str,
        include_open_opportunities: bool,
        moved_ids: Sequence[str],
        actor_id: str | None,
        actor_name: str | None,
        now: datetime,
        team: str | None = None,
    ) -> TransferRecord:
        run = {"id": run_id, "at": now, "by": actor_id, "byName": actor_name}
        run["moved"] = list(moved_ids)
        for _ in range(20):  # optimistic: another run of the same transfer may write meanwhile
            document = await self.collection.find_one({"_id": transfer_id})
            if document is not None and run_id in (document.get("run_ids") or []):
                return self._record(document)  # recorded before this resumption
            version = 0 if document is None else int(document.get("version") or 0)
            ids = list((document or {}).get("customer_ids") or [])
            ids += [i for i in moved_ids if i not in ids]
            runs = [*((document or {}).get("runs") or []), run]
            entries: list[dict[str, Any]] = []
            if moved_ids or document is None or not document.get("events_emitted"):
                event = OwnershipTransferred(
                    transfer_id=transfer_id,
                    from_owner_id=from_owner,
                    to_owner_id=to_owner,
                    include_open_opportunities=include_open_opportunities,
                    customer_ids=tuple(ids),
                    version=version + 1,
                    occurred_at=now,
                    actor_id=actor_id,
                    actor_name=actor_name,
                    team=team,
                )
                entries.append(outbox_entry(event))
            changes: dict[str, Any] = {
                "customer_ids": ids,
                "runs": runs,
                "run_ids": [*((document or {}).get("run_ids") or []), run_id],
                "version": version + 1,
            }
            if entries:
                changes.update({"events_emitted": True, OUTBOX_PENDING: True})
            try:
                if document is None:
                    await self.collection.insert_one(
                        {
                            "_id": transfer_id,
                            "from_owner_id": from_owner,
                            "to_owner_id": to_owner,
                            "include_open_opportunities": include_open_opportunities,
                            "created_at": now,
                            OUTBOX: entries,
                            **changes,
                        }
                    )
                else:
                    update: dict[str, Any] = {"$set": changes}
                    with_outbox_append(update, entries)
                    result = await self.collection.update_one(
                        {"_id": transfer_id, "version": version}, update
                    )
                    if result.matched_count == 0:
                        continue
            except DuplicateKeyError:
                continue
            if self._listener is not None and entries:
                self._listener.submit(transfer_id, entries)
            return TransferRecord(transfer_id, ids, len(runs))
        raise RuntimeError(f"transfer {transfer_id} kept changing")

    @staticmethod
    def _record(document: dict[str, Any]) -> TransferRecord:
        return TransferRecord(
            document["_id"],
            list(document.get("customer_ids") or []),
            len(document.get("runs") or []),
        )
