"""The deal list's MongoDB shape: its filter, its orders and their keyset cursors, and the
stored search fields of a title.

Every order is one stored string (the sort value, then ``_id``) with an index of its own, and
its cursor carries that key tagged with the order (a cursor of another order is refused), so a
page boundary is one range on one field. A missing expected close date sorts after every date.

A title fragment is looked up by ONE equality on ``title_grams`` (trigrams, plus bigrams of
CJK text: ``crm_common.fragments``), put first in the filter (the stand-in looks up the first
indexed clause), and checked by a substring test on ``title_search``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING

from crm_common.errors import BadUserInput
from crm_common.fragments import fold_text, fragment_grams, rarest_guess, text_grams
from crm_common.pagination import KeysetCursor
from pipeline.domain.access import Scope
from pipeline.service_layer.ports import OpportunityFilter, OpportunitySort, SortField

Document = dict[str, Any]

#: The sort key of a deal without an expected close date: after every date.
NO_CLOSE_DATE = "9999-12-31"


#: Bumped when the stored list fields change shape (older documents are rewritten at start).
LIST_VERSION = 2


def _utc_key(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def list_fields(
    *,
    opportunity_id: str,
    title: str,
    expected_close: date | None,
    amount: Decimal,
    created_at: datetime,
    updated_at: datetime,
) -> Document:
    """The stored fields that the list's search and orders use, derived from the deal. Each
    order is ONE string field (the sort value, then the id), so that a page boundary is one
    range on one indexed field (the stand-in scans for ``$or``)."""
    folded = fold_text(title)
    close = expected_close.isoformat() if expected_close else NO_CLOSE_DATE
    return {
        "title_search": folded,
        "title_grams": sorted(text_grams(folded)),
        "sort_close": f"{close}\x00{opportunity_id}",
        "sort_amount": f"{amount:021.3f}\x00{opportunity_id}",  # amounts < 1e15, >= 0
        "sort_created": f"{_utc_key(created_at)}\x00{opportunity_id}",
        "sort_updated": f"{_utc_key(updated_at)}\x00{opportunity_id}",
        "sort_title": f"{folded}\x00{opportunity_id}",
        "list_version": LIST_VERSION,
    }


@dataclass(frozen=True, slots=True)
class Order:
    field: str  # the stored sort key (value, then id)
    cursors: KeysetCursor


ORDERS: dict[SortField, Order] = {
    SortField.CREATED: Order("sort_created", KeysetCursor("opportunity:created", 1)),
    SortField.UPDATED: Order("sort_updated", KeysetCursor("opportunity:updated", 1)),
    SortField.AMOUNT: Order("sort_amount", KeysetCursor("opportunity:amount", 1)),
    SortField.EXPECTED_CLOSE: Order("sort_close", KeysetCursor("opportunity:close", 1)),
    SortField.TITLE: Order("sort_title", KeysetCursor("opportunity:title", 1)),
}

#: One single-field index per order (read both ways), and the title grams.
LIST_INDEXES = [
    *(([(order.field, ASCENDING)], f"list_{order.field}") for order in ORDERS.values()),
    ([("title_grams", ASCENDING)], "title_grams"),
    ([("list_version", ASCENDING)], "list_version"),
]


def order_of(sort: OpportunitySort | None) -> tuple[Order, int]:
    sort = sort or OpportunitySort()
    return ORDERS[sort.field], DESCENDING if sort.descending else ASCENDING


def encode(order: Order, doc: Document) -> str:
    return order.cursors.encode(str(doc[order.field]))


def after_condition(order: Order, direction: int, cursor: str) -> Document:
    """What sorts after the cursor's edge in this order: one range on one field."""
    (key,) = order.cursors.decode_str(cursor)
    return {order.field: {"$lt" if direction == DESCENDING else "$gt": key}}


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
    parts: list[Document] = [query, *checks]
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
