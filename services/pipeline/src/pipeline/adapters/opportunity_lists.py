"""The deal list's MongoDB shape: its filter, its orders and their keyset cursors, and the
stored search fields of a title.

Every order is (sort value, ``_id``) in one direction, with an index of the same shape, and its
cursor carries both values tagged with the order (a cursor of another order is refused).
A value that may be missing is stored as a sort key that is never null (``sort_close``: the
expected close date, or a date after every date), so the keyset condition stays simple.

A title fragment is looked up by ONE equality on ``title_grams`` (trigrams, plus bigrams of
CJK text: ``crm_common.fragments``), put first in the filter (the stand-in looks up the first
indexed clause), and checked by a substring test on ``title_search``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING

from crm_common.errors import BadUserInput
from crm_common.fragments import fold_text, fragment_grams, rarest_guess, text_grams
from crm_common.pagination import Key, KeysetCursor
from pipeline.domain.access import Scope
from pipeline.service_layer.ports import OpportunityFilter, OpportunitySort, SortField

Document = dict[str, Any]

#: The sort key of a deal without an expected close date: after every date.
NO_CLOSE_DATE = "9999-12-31"


def title_fields(title: str, expected_close: date | None) -> Document:
    """The stored fields that the list's search and orders use, derived from the deal."""
    folded = fold_text(title)
    return {
        "title_search": folded,
        "title_grams": sorted(text_grams(folded)),
        "sort_close": expected_close.isoformat() if expected_close else NO_CLOSE_DATE,
    }


@dataclass(frozen=True, slots=True)
class Order:
    field: str  # the stored field sorted on
    cursors: KeysetCursor

    def key(self, doc: Document) -> Key:
        value: Any = doc
        for part in self.field.split("."):
            value = value[part]
        if isinstance(value, Decimal128):
            return str(value.to_decimal())
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    def parse(self, raw: Key) -> Any:
        """A cursor's sort value back in its stored type; BAD_USER_INPUT when it is not one."""
        try:
            if self.field == "amount.amount":
                return Decimal128(Decimal(str(raw)))
            if self.field in ("created_at", "updated_at"):
                return datetime.fromisoformat(str(raw))
        except (InvalidOperation, ValueError) as exc:
            raise BadUserInput("after: not a cursor of this connection", field="after") from exc
        return str(raw)


ORDERS: dict[SortField, Order] = {
    SortField.CREATED: Order("created_at", KeysetCursor("opportunity:created")),
    SortField.UPDATED: Order("updated_at", KeysetCursor("opportunity:updated")),
    SortField.AMOUNT: Order("amount.amount", KeysetCursor("opportunity:amount")),
    SortField.EXPECTED_CLOSE: Order("sort_close", KeysetCursor("opportunity:close")),
    SortField.TITLE: Order("title_search", KeysetCursor("opportunity:title")),
}

#: One index per order (the direction of a single-field-plus-id index reads both ways).
LIST_INDEXES = [
    ([("updated_at", DESCENDING), ("_id", DESCENDING)], "list_updated"),
    ([("amount.amount", DESCENDING), ("_id", DESCENDING)], "list_amount"),
    ([("sort_close", ASCENDING), ("_id", ASCENDING)], "list_close"),
    ([("title_search", ASCENDING), ("_id", ASCENDING)], "list_title"),
    ([("title_grams", ASCENDING)], "title_grams"),
]


def order_of(sort: OpportunitySort | None) -> tuple[Order, int]:
    sort = sort or OpportunitySort()
    return ORDERS[sort.field], DESCENDING if sort.descending else ASCENDING


def encode(order: Order, doc: Document) -> str:
    return order.cursors.encode(order.key(doc), str(doc["_id"]))


def after_condition(order: Order, direction: int, cursor: str) -> Document:
    """What sorts after the cursor's edge in this order."""
    raw_value, raw_id = order.cursors.decode(cursor)
    if not isinstance(raw_id, str) or raw_value is None:
        raise BadUserInput("after: not a cursor of this connection", field="after")
    value = order.parse(raw_value)
    beyond = "$lt" if direction == DESCENDING else "$gt"
    return {"$or": [{order.field: {beyond: value}}, {order.field: value, "_id": {beyond: raw_id}}]}


def scope_query(scope: Scope) -> Document:
    """The visibility rule as a MongoDB filter."""
    if scope.all:
        return {}
    ors: list[Document] = []
    if scope.owner_id is not None:
        ors.append({"owner_id": scope.owner_id})
    if scope.team is not None:
        ors.append({"team": scope.team})
    if not ors:
        return {"_id": {"$exists": False}}  # matches nothing
    return ors[0] if len(ors) == 1 else {"$or": ors}


def _title_clauses(fragment: str) -> tuple[Document, Document]:
    """(lead, check) of a title fragment: the lead is an indexed equality (empty when the
    fragment is too short for the index), the check decides."""
    folded = fold_text(fragment)
    if not folded:
        raise BadUserInput("titleContains: must not be blank", field="titleContains")
    grams = fragment_grams(folded)
    lead = {"title_grams": rarest_guess(grams)} if grams else {}
    return lead, {"title_search": {"$regex": re.escape(folded)}}


def _range(low: Any, high: Any) -> Document | None:
    bounds = {}
    if low is not None:
        bounds["$gte"] = low
    if high is not None:
        bounds["$lte"] = high
    return bounds or None


def filter_query(where: OpportunityFilter) -> Document:
    """The MongoDB filter of a list's or a board column's filter (its indexed lead first)."""
    query: Document = {}
    checks: list[Document] = []
    if where.title_contains is not None:
        lead, check = _title_clauses(where.title_contains)
        query.update(lead)
        checks.append(check)
    if where.status is not None:
        query["status"] = str(where.status)
    for key in ("owner_id", "customer_id", "pipeline_id", "stage_id"):
        value = getattr(where, key)
        if value is not None:
            query[key] = value
    if where.currency is not None:
        query["amount.currency"] = where.currency.strip().upper()
    amount = _range(
        Decimal128(where.amount_min) if where.amount_min is not None else None,
        Decimal128(where.amount_max) if where.amount_max is not None else None,
    )
    if amount:
        query["amount.amount"] = amount
    close = _range(
        where.expected_close_from.isoformat() if where.expected_close_from else None,
        where.expected_close_to.isoformat() if where.expected_close_to else None,
    )
    if close:
        query["expected_close_date"] = close
    updated = _range(where.updated_from, where.updated_to)
    if updated:
        query["updated_at"] = updated
    parts = [query, *checks]
    visible = scope_query(where.scope)
    if visible:
        parts.append(visible)
    if where.idle_before is not None:
        idle = [
            {"stage_id": stage_id, "updated_at": {"$lt": cutoff}}
            for stage_id, cutoff in where.idle_before.items()
        ]
        parts.append({"status": "OPEN", "$or": idle} if idle else {"_id": {"$exists": False}})
    parts = [part for part in parts if part]
    if not parts:
        return {}
    if len(parts) == 1:
        return parts[0]
    # The lead stays a top-level clause before the ``$and`` (what the stand-in looks up).
    lead_only = {k: v for k, v in query.items() if k == "title_grams"}
    rest = [{k: v for k, v in part.items() if k != "title_grams"} for part in parts]
    return {**lead_only, "$and": [part for part in rest if part]}
