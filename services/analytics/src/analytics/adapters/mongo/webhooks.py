"""Webhooks and their deliveries on MongoDB: every delivery is a document written before it is
sent, so a restart of the worker loses none (pending ones are picked up again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError

from analytics.adapters.mongo.collections import (
    DELIVERIES,
    WEBHOOKS,
    Collection,
    Database,
    Document,
)
from analytics.domain.webhooks import Delivery, DeliveryStatus, Webhook


def _webhook(doc: Document) -> Webhook:
    return Webhook(
        id=doc["_id"],
        url=doc["url"],
        event_types=list(doc["eventTypes"]),
        description=doc.get("description"),
        secret=doc["secret"],
        created_at=doc["createdAt"],
        created_by=doc.get("createdBy", ""),
        active=bool(doc.get("active", True)),
        disabled_reason=doc.get("disabledReason"),
        disabled_at=doc.get("disabledAt"),
        failures_in_a_row=int(doc.get("failuresInARow", 0)),
    )


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        webhook_id=doc["webhookId"],
        event_id=doc["eventId"],
        event_type=doc["eventType"],
        subject=doc["subject"],
        body=doc["body"],
        created_at=doc["createdAt"],
        status=DeliveryStatus(doc["status"]),
        attempts=int(doc.get("attempts", 0)),
        next_attempt_at=doc.get("nextAttemptAt"),
        last_status=doc.get("lastStatus"),
        last_error=doc.get("lastError"),
        delivered_at=doc.get("deliveredAt"),
    )


class MongoWebhooks:
    def __init__(self, db: Database) -> None:
        self._webhooks: Collection = db[WEBHOOKS]
        self._deliveries: Collection = db[DELIVERIES]

    # -- webhooks ---------------------------------------------------------------------------

    async def add(self, webhook: Webhook) -> None:
        await self._webhooks.insert_one(
            {
                "_id": webhook.id,
                "url": webhook.url,
                "eventTypes": webhook.event_types,
                "description": webhook.description,
                "secret": webhook.secret,
                "createdAt": webhook.created_at,
                "createdBy": webhook.created_by,
                "active": True,
                "failuresInARow": 0,
            }
        )

    async def all(self) -> list[Webhook]:
        return [_webhook(d) async for d in self._webhooks.find({}).sort("createdAt", ASCENDING)]

    async def get(self, webhook_id: str) -> Webhook | None:
        doc = await self._webhooks.find_one({"_id": webhook_id})
        return _webhook(doc) if doc is not None else None

    async def delete(self, webhook_id: str) -> bool:
        result = await self._webhooks.delete_one({"_id": webhook_id})
        await self._deliveries.delete_many({"webhookId": webhook_id, "status": "PENDING"})
        return result.deleted_count == 1

    async def disable(self, webhook_id: str, reason: str, at: datetime) -> None:
        await self._webhooks.update_one(
            {"_id": webhook_id, "active": True},
            {"$set": {"active": False, "disabledReason": reason, "disabledAt": at}},
        )

    async def note_attempt(self, webhook_id: str, succeeded: bool) -> int:
        """Counts failed attempts in a row (a success resets it); returns the count."""
        update: Document = (
            {"$set": {"failuresInARow": 0}} if succeeded else {"$inc": {"failuresInARow": 1}}
        )
        doc = await self._webhooks.find_one_and_update(
            {"_id": webhook_id}, update, projection={"failuresInARow": 1}, return_document=True
        )
        return int((doc or {}).get("failuresInARow", 0))

    # -- deliveries -------------------------------------------------------------------------

    async def enqueue(self, deliveries: list[Document]) -> None:
        if not deliveries:
            return
        try:
            await self._deliveries.insert_many(deliveries, ordered=False)
        except BulkWriteError as exc:
            # Duplicates (11000): the event was fanned out by an earlier delivery of it.
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def pending(self, limit: int) -> list[Delivery]:
        """The oldest pending deliveries (due or not), in creation order, without their bodies
        (``bodies`` reads those of the ones about to be sent)."""
        cursor = (
            self._deliveries.find({"status": "PENDING"}, projection={"body": 0})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        return [_delivery({**d, "body": ""}) async for d in cursor]

    async def bodies(self, delivery_ids: list[str]) -> dict[str, str]:
        cursor = self._deliveries.find({"_id": {"$in": delivery_ids}}, projection={"body": 1})
        return {d["_id"]: d["body"] async for d in cursor}

    async def delivered(self, delivery_id: str, status: int, at: datetime) -> None:
        await self._deliveries.update_one(
            {"_id": delivery_id},
            {
                "$set": {
                    "status": "DELIVERED",
                    "deliveredAt": at,
                    "lastStatus": status,
                    "lastError": None,
                    "nextAttemptAt": None,
                },
                "$inc": {"attempts": 1},
            },
        )

    async def failed_attempt(
        self,
        delivery_id: str,
        status: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> None:
        changes: dict[str, Any] = {
            "lastStatus": status,
            "lastError": error[:500],
            "nextAttemptAt": next_attempt_at,
        }
        if next_attempt_at is None:
            changes["status"] = "FAILED"
        await self._deliveries.update_one(
            {"_id": delivery_id}, {"$set": changes, "$inc": {"attempts": 1}}
        )

    async def page(
        self, webhook_id: str, first: int, after_seq: int | None
    ) -> tuple[list[Delivery], list[int]]:
        """Newest first; with each delivery its sequence (the cursor)."""
        query: Document = {"webhookId": webhook_id}
        if after_seq is not None:
            query["seq"] = {"$lt": after_seq}
        cursor = self._deliveries.find(query).sort("seq", DESCENDING).limit(first)
        docs = [d async for d in cursor]
        return [_delivery(d) for d in docs], [int(d["seq"]) for d in docs]
