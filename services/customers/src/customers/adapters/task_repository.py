"""The follow-ups in MongoDB (``tasks``): one document per task with its visibility keys, its
sort keys and its own outbox (the ``customers.task.due`` announcements).

Query shapes follow what the SecantusDB stand-in answers through an index (see
``customer_search.py``): the most selective indexed clause comes first in one flat filter
(the assignee, the customer or the deal when asked for, else the caller's visibility keys) and
the others are checked on its candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from crm_common.events import CloudEvent
from crm_common.outbox import (
    PENDING_INDEX,
    WITHOUT_OUTBOX,
    OutboxListener,
    with_outbox_append,
)
from crm_common.pagination import KeysetCursor
from customers.adapters.customer_documents import visibility_keys
from customers.domain.tasks import Task, TaskPriority, TaskStatus
from customers.service_layer.ports import TaskPage, TaskQuery, TaskSortField

TASKS = "tasks"
#: True while a due announcement is still to be published (sparse: only those are indexed).
DUE_PENDING = "due_pending"

_SORT_FIELDS = {
    TaskSortField.DUE_AT: "sort_due",
    TaskSortField.CREATED_AT: "sort_created",
    TaskSortField.UPDATED_AT: "sort_updated",
}
_CURSORS = {field: KeysetCursor(f"task:{field.value.lower()}", 1) for field in TaskSortField}

TASK_INDEXES = [
    PENDING_INDEX,
    IndexModel([(DUE_PENDING, ASCENDING)], name=DUE_PENDING, sparse=True),
    IndexModel([("visibility", ASCENDING)], name="visibility"),
    IndexModel([("assignee_id", ASCENDING), ("sort_due", ASCENDING)], name="assignee_due"),
    IndexModel([("customer_id", ASCENDING), ("sort_due", ASCENDING)], name="customer_due"),
    IndexModel([("opportunity_id", ASCENDING), ("sort_due", ASCENDING)], name="deal_due"),
    IndexModel([("sort_due", ASCENDING)], name="sort_due"),
    IndexModel([("sort_created", ASCENDING)], name="sort_created"),
    IndexModel([("sort_updated", ASCENDING)], name="sort_updated"),
]


def _key(moment: datetime, task_id: str) -> str:
    return f"{moment.astimezone(UTC).isoformat()}\x00{task_id}"


def task_visibility(task: Task) -> list[str]:
    keys = visibility_keys(task.assignee_id, task.team)
    if task.customer_owner_id is not None:
        keys += visibility_keys(task.customer_owner_id, task.customer_team)
    return sorted(set(keys))


def task_document(task: Task) -> dict[str, Any]:
    return {
        "_id": task.id,
        "title": task.title,
        "due_at": task.due_at,
        "assignee_id": task.assignee_id,
        "team": task.team,
        "customer_id": task.customer_id,
        "customer_owner_id": task.customer_owner_id,
        "customer_team": task.customer_team,
        "opportunity_id": task.opportunity_id,
        "priority": task.priority.value,
        "notes": task.notes,
        "status": task.status.value,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
        "created_by": task.created_by,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "visibility": task_visibility(task),
        "sort_due": _key(task.due_at, task.id),
        "sort_created": _key(task.created_at, task.id),
        "sort_updated": _key(task.updated_at, task.id),
    }


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_required(moment: datetime) -> datetime:
    found = _utc(moment)
    assert found is not None
    return found


def task_from_document(doc: dict[str, Any]) -> Task:
    return Task(
        id=doc["_id"],
        title=doc["title"],
        due_at=_utc_required(doc["due_at"]),
        assignee_id=doc["assignee_id"],
        team=doc.get("team"),
        customer_id=doc.get("customer_id"),
        customer_owner_id=doc.get("customer_owner_id"),
        customer_team=doc.get("customer_team"),
        opportunity_id=doc.get("opportunity_id"),
        priority=TaskPriority(doc["priority"]),
        notes=doc.get("notes"),
        status=TaskStatus(doc["status"]),
        completed_at=_utc(doc.get("completed_at")),
        completed_by=doc.get("completed_by"),
        created_by=doc["created_by"],
        version=doc["version"],
        created_at=_utc_required(doc["created_at"]),
        updated_at=_utc_required(doc["updated_at"]),
    )


def _due_flag(task: Task) -> dict[str, Any]:
    """An open task is to be announced when due; a done one never."""
    return {DUE_PENDING: True} if task.status is TaskStatus.OPEN else {}


class MongoTaskRepository:
    def __init__(
        self, collection: AsyncCollection[dict[str, Any]], outbox_listener: OutboxListener | None
    ) -> None:
        self.collection = collection
        self._listener = outbox_listener

    async def create_indexes(self) -> None:
        await self.collection.create_indexes(TASK_INDEXES)

    async def add(self, task: Task) -> None:
        await self.collection.insert_one({**task_document(task), **_due_flag(task)})

    async def get(self, task_id: str) -> Task | None:
        doc = await self.collection.find_one({"_id": task_id}, WITHOUT_OUTBOX)
        return task_from_document(doc) if doc else None

    async def save(self, task: Task, loaded_version: int, *, due_changed: bool) -> bool:
        """Write the task if its stored version is still ``loaded_version``; a new due time
        (or a reopen) is announced again when it comes, a done task never."""
        document = task_document(task)
        del document["_id"]
        update: dict[str, Any] = {"$set": document}
        if task.status is TaskStatus.DONE:
            update["$unset"] = {DUE_PENDING: ""}
        elif due_changed:
            update["$set"][DUE_PENDING] = True
        result = await self.collection.update_one(
            {"_id": task.id, "version": loaded_version}, update
        )
        return result.matched_count == 1

    async def delete(self, task_id: str, loaded_version: int) -> bool:
        result = await self.collection.delete_one({"_id": task_id, "version": loaded_version})
        return result.deleted_count == 1

    async def page(self, query: TaskQuery, first: int, after: str | None) -> TaskPage:
        field = _SORT_FIELDS[query.sort]
        cursors = _CURSORS[query.sort]
        conditions: dict[str, Any] = {}
        # The most selective indexed clause first (the stand-in looks it up).
        for name, value in (
            ("opportunity_id", query.opportunity_id),
            ("customer_id", query.customer_id),
            ("assignee_id", query.assignee_id),
        ):
            if value is not None:
                conditions[name] = value
        if query.visibility is not None:
            conditions["visibility"] = {"$in": list(query.visibility)}
        if query.status is not None:
            conditions["status"] = query.status.value
        due: dict[str, Any] = {}
        if query.due_from is not None:
            due["$gte"] = query.due_from
        if query.due_to is not None:
            due["$lt"] = query.due_to
        if due:
            conditions["due_at"] = due
        if after is not None:
            (key,) = cursors.decode_str(after)
            conditions[field] = {"$gt" if not query.descending else "$lt": key}
        direction = DESCENDING if query.descending else ASCENDING
        cursor = self.collection.find(
            conditions, WITHOUT_OUTBOX, sort=[(field, direction)], limit=first + 1
        )
        docs = [doc async for doc in cursor]
        return TaskPage(
            items=[(cursors.encode(doc[field]), task_from_document(doc)) for doc in docs[:first]],
            has_next=len(docs) > first,
        )

    async def by_field(
        self, name: str, values: Sequence[str], visibility: Sequence[str] | None
    ) -> dict[str, list[Task]]:
        """The tasks of these customers (``customer_id``) or deals (``opportunity_id``) that
        ``visibility`` admits (None: all), by due time, in one query."""
        found: dict[str, list[Task]] = {value: [] for value in values}
        conditions: dict[str, Any] = {name: {"$in": list(set(values))}}
        if visibility is not None:
            conditions["visibility"] = {"$in": list(visibility)}
        cursor = self.collection.find(conditions, WITHOUT_OUTBOX, sort=[("sort_due", ASCENDING)])
        async for doc in cursor:
            found.setdefault(doc[name], []).append(task_from_document(doc))
        return found

    async def due_unannounced(self, now: datetime, limit: int) -> list[Task]:
        cursor = self.collection.find(
            {DUE_PENDING: True, "due_at": {"$lte": now}}, WITHOUT_OUTBOX, limit=limit
        )
        return [task_from_document(doc) async for doc in cursor]

    async def announce(self, task: Task, event: CloudEvent) -> bool:
        """The due announcement appended to the task's outbox, once per due time."""
        update: dict[str, Any] = {"$unset": {DUE_PENDING: ""}}
        entries = [event.model_dump(exclude_none=True)]
        with_outbox_append(update, entries)
        result = await self.collection.update_one(
            {"_id": task.id, "version": task.version, DUE_PENDING: True}, update
        )
        if result.modified_count == 1 and self._listener is not None:
            self._listener.submit(task.id, entries)
        return result.modified_count == 1
