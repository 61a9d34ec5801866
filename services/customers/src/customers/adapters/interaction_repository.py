"""The customers' timelines in MongoDB (``interactions``), newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from customers.adapters.customer_documents import Collection
from customers.domain.interactions import Interaction
from customers.domain.model import (
    InteractionKind,
)
from customers.service_layer.ports import (
    TimelinePage,
)


def interaction_document(interaction: Interaction) -> dict[str, Any]:
    return {
        "_id": interaction.id,
        "customer_id": interaction.customer_id,
        "kind": interaction.kind.value,
        "occurred_at": interaction.occurred_at,
        "recorded_at": interaction.recorded_at,
        "summary": interaction.summary,
        "details": interaction.details,
        "actor_id": interaction.actor_id,
        "actor_name": interaction.actor_name,
        "opportunity_id": interaction.opportunity_id,
        "merged_from": interaction.merged_from,
        "sort_key": interaction_key(interaction.occurred_at, interaction.id),
    }


def interaction_key(occurred_at: datetime, interaction_id: str) -> str:
    """Newest first = this key descending; a page boundary is one range on it."""
    return f"{occurred_at.astimezone(UTC).isoformat()}\x00{interaction_id}"


def interaction_from_document(document: dict[str, Any]) -> Interaction:
    return Interaction(
        id=document["_id"],
        customer_id=document["customer_id"],
        kind=InteractionKind(document["kind"]),
        occurred_at=document["occurred_at"],
        recorded_at=document["recorded_at"],
        summary=document["summary"],
        details=document.get("details"),
        actor_id=document.get("actor_id"),
        actor_name=document.get("actor_name"),
        opportunity_id=document.get("opportunity_id"),
        merged_from=document.get("merged_from"),
    )


class MongoInteractionRepository:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def add(self, interaction: Interaction) -> bool:
        try:
            await self.collection.insert_one(interaction_document(interaction))
        except DuplicateKeyError:
            return False
        return True

    async def customer_of_opportunity(self, opportunity_id: str) -> str | None:
        found = await self.collection.find_one({"opportunity_id": opportunity_id})
        return str(found["customer_id"]) if found else None

    async def by_opportunities(
        self, opportunity_ids: Sequence[str], limit: int
    ) -> dict[str, list[Interaction]]:
        grouped: dict[str, list[Interaction]] = {oid: [] for oid in opportunity_ids}
        cursor = self.collection.find({"opportunity_id": {"$in": list(set(opportunity_ids))}})
        async for document in cursor.sort("sort_key", DESCENDING):
            entries = grouped.setdefault(document["opportunity_id"], [])
            if len(entries) < limit:
                entries.append(interaction_from_document(document))
        return grouped

    @staticmethod
    def _filter(
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> dict[str, Any]:
        conditions: dict[str, Any] = {"customer_id": customer_id}
        if kinds:
            conditions["kind"] = {"$in": [kind.value for kind in kinds]}
        period: dict[str, Any] = {}
        if occurred_from is not None:
            period["$gte"] = occurred_from
        if occurred_to is not None:
            period["$lt"] = occurred_to
        if period:
            conditions["occurred_at"] = period
        return conditions

    async def page(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
        first: int,
        after: tuple[datetime, str] | None,
    ) -> TimelinePage:
        conditions = self._filter(customer_id, kinds, occurred_from, occurred_to)
        if after is not None:
            at, after_id = after
            conditions["sort_key"] = {"$lt": interaction_key(at, after_id)}
        cursor = self.collection.find(conditions).sort("sort_key", DESCENDING).limit(first + 1)
        documents = await cursor.to_list(None)
        return TimelinePage(
            items=[interaction_from_document(d) for d in documents[:first]],
            has_next=len(documents) > first,
        )

    async def count(
        self,
        customer_id: str,
        kinds: Sequence[InteractionKind],
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> int:
        return await self.collection.count_documents(
            self._filter(customer_id, kinds, occurred_from, occurred_to)
        )

    async def repoint(self, from_ids: Sequence[str], to_id: str) -> int:
        moved = 0
        for from_id in from_ids:
            result = await self.collection.update_many(
                {"customer_id": from_id},
                {"$set": {"customer_id": to_id, "merged_from": from_id}},
            )
            moved += result.modified_count
        return moved

    async def count_for(self, customer_ids: Sequence[str]) -> int:
        return await self.collection.count_documents({"customer_id": {"$in": list(customer_ids)}})
