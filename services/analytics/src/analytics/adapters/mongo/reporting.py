"""Reporting reads and writes on MongoDB: exchange rates, lead counts and the audit trail (the
last two straight from the event store, which keeps every event the worker received)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from analytics.adapters.mongo.collections import EVENTS, Collection, Database, Document
from analytics.domain.audit import AuditQuery, AuditRecord, record_of
from analytics.domain.currency import ExchangeRate
from crm_common.access import Scope
from crm_common.events import iso, utcnow

EXCHANGE_RATES = "exchange_rates"
CUSTOMER_CREATED = "customers.customer.created"


class MongoExchangeRates:
    def __init__(self, db: Database) -> None:
        self._rates: Collection = db[EXCHANGE_RATES]

    async def all(self) -> list[ExchangeRate]:
        return [
            ExchangeRate(
                doc["currency"], Decimal(doc["rate"]), date.fromisoformat(doc["validFrom"])
            )
            async for doc in self._rates.find({}).sort([("currency", 1), ("validFrom", 1)])
        ]

    async def put(self, rate: ExchangeRate, actor_id: str) -> None:
        """One rate per currency and day: setting it again replaces it."""
        valid_from = rate.valid_from.isoformat()
        await self._rates.replace_one(
            {"_id": f"{rate.currency}:{valid_from}"},
            {
                "currency": rate.currency,
                "rate": str(rate.rate),
                "validFrom": valid_from,
                "setBy": actor_id,
                "setAt": utcnow(),
            },
            upsert=True,
        )


class MongoReporting:
    """Lead counts and the audit trail, read from the event store."""

    def __init__(self, db: Database) -> None:
        self._events: Collection = db[EVENTS]

    async def lead_counts(
        self, source_field: str, start: datetime | None, end: datetime | None
    ) -> dict[str | None, int]:
        return await _lead_counts(self._events, source_field, start, end)

    async def audit_records(
        self, query: AuditQuery, scope: Scope, *, limit: int, after: tuple[str, str] | None
    ) -> list[AuditRecord]:
        """Newest first (by event time, then id), at most ``limit``."""
        projection: dict[str, Any] = {"receivedAt": 0, "traceparent": 0}
        cursor = (
            self._events.find(_audit_filter(query, scope, after), projection=projection)
            .sort([("time", -1), ("_id", -1)])
            .limit(limit)
        )
        return [record_of(doc) async for doc in cursor]


async def _lead_counts(
    events: Collection, source_field: str, start: datetime | None, end: datetime | None
) -> dict[str | None, int]:
    """Customers created in [start, end), by the value of their source's ``source_field``."""
    match: Document = {"type": CUSTOMER_CREATED}
    window: Document = {}
    if start is not None:
        window["$gte"] = iso(start)
    if end is not None:
        window["$lt"] = iso(end)
    if window:
        match["time"] = window
    pipeline: list[Document] = [
        {"$match": match},
        {"$group": {"_id": f"$data.source.{source_field}", "n": {"$sum": 1}}},
    ]
    counts: dict[str | None, int] = {}
    async for row in await events.aggregate(pipeline):
        key = row["_id"] if isinstance(row["_id"], str) else None
        counts[key] = counts.get(key, 0) + int(row["n"])
    return counts


def _audit_filter(query: AuditQuery, scope: Scope, after: tuple[str, str] | None) -> Document:
    # A flat filter (the store holds the opportunity and customer events only): equality on
    # the indexed field first, so that MongoDB and the stand-in both pick the index.
    flat: Document = {}
    if query.actor_id is not None:
        flat["actorid"] = query.actor_id
    if query.subject_ids is not None:
        subjects = list(query.subject_ids)
        flat["subject"] = subjects[0] if len(subjects) == 1 else {"$in": subjects}
    if query.types:
        types = list(query.types)
        flat["type"] = types[0] if len(types) == 1 else {"$in": types}
    window: Document = {}
    if query.start is not None:
        window["$gte"] = iso(query.start)
    if query.end is not None:
        window["$lt"] = iso(query.end)
    ors: list[Document] = []
    if not scope.all:
        ors.append({"$or": [{"data.team": scope.team}, {"data.survivorTeam": scope.team}]})
    if after is not None:
        time, event_id = after
        ors.append({"$or": [{"time": {"$lt": time}}, {"time": time, "_id": {"$lt": event_id}}]})
        # The keyset bound also narrows the indexed time range.
        window["$lte"] = min(time, window["$lte"]) if "$lte" in window else time
    if window:
        flat["time"] = window
    if len(ors) == 1:
        flat.update(ors[0])
    elif ors:
        flat["$and"] = ors
    return flat
