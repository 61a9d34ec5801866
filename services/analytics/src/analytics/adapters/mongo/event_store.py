"""The event store: every event received, by CloudEvent id (the record of processed events)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from analytics.adapters.mongo.collections import EVENTS, Collection, Database, Document
from crm_common.events import utcnow

log = logging.getLogger(__name__)


class MongoEventStore:
    def __init__(self, db: Database) -> None:
        self._events: Collection = db[EVENTS]

    async def contains(self, event_id: str) -> bool:
        return await self._events.find_one({"_id": event_id}, projection={"_id": 1}) is not None

    async def append(self, event_id: str, envelope: Mapping[str, Any]) -> bool:
        document = {**envelope, "_id": event_id, "receivedAt": utcnow()}
        try:
            await self._events.insert_one(document)
        except DuplicateKeyError:  # recorded by an earlier delivery
            return False
        return True

    async def append_many(self, items: list[tuple[str, Mapping[str, Any]]]) -> None:
        if not items:
            return
        received = utcnow()
        documents = [{**envelope, "_id": key, "receivedAt": received} for key, envelope in items]
        try:
            await self._events.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            # Duplicates (code 11000) are events recorded by an earlier delivery.
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def find(self, subject: str, sequence: int) -> Mapping[str, Any] | None:
        return await self._events.find_one({"subject": subject, "sequence": sequence})

    async def replay(self, pipeline_id: str | None = None) -> AsyncIterator[Mapping[str, Any]]:
        query: Document = {} if pipeline_id is None else {"data.pipelineId": pipeline_id}
        cursor = self._events.find(query).sort([("subject", 1), ("sequence", 1)])
        async for document in cursor:
            yield document
