"""Fragment search and list paging over the ``customers`` collection, shaped for what both
MongoDB and the SecantusDB stand-in answer through an index.

Measured on the stand-in (``benchmarks/secantus_query_shapes.py``): it reads EVERY candidate
document of a query before applying ``limit``; an equality (or ``$in``) on a multikey array
and a range bounded on both sides on a single-field index are index lookups; in a filter of
several fields the first clause that has an index is looked up and the others are checked on
its candidates; ``$and``, ``$all``, ``$or``, ``$regex`` alone and any range on ``_id`` scan
the collection; ``count`` costs a read of every counted document. Hence:

- fragments: one equality on the gram array (the rarest gram of the fragments, judged from a
  sample), first in the filter, and substring checks on the folded texts after it;
- lists without a selective clause: the sort key read in windows bounded on both sides, the
  bounds taken from the sample's keys, widened until the page is full;
- ``sort_id``: an indexed copy of ``_id``, since a range on ``_id`` is a scan there.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from crm_common.fragments import cjk_bigrams
from customers.domain.model import Customer
from customers.domain.search_terms import (
    EMAIL,
    GRAM,
    NAME,
    PHONE,
    SEARCH_VERSION,
    customer_grams,
    digits,
    fold_text,
    fragment_grams,
    is_sample,
    pick_gram,
)
from customers.domain.values import phone_digits, words

SAMPLE_FIELD = "search_sample"
SORT_FIELDS = ("sort_id", "sort_name", "sort_created", "sort_updated")
# The sample is re-read at most this often; a stale one only costs speed, never results
# (windows widen until the page is full, and the last window is open-ended).
SAMPLE_TTL_SECONDS = 30.0
# Below this many sampled documents the collection is small: plain queries are cheap.
MIN_SAMPLES = 4

# What may precede a word in a folded name (a short fragment must start a word).
_WORD_START = r"(?:^|[\s\-'.,/&()+:;\"])"


def search_fields(customer: Customer) -> dict[str, Any]:
    """The stored fields that search and paging use, derived from the customer."""
    numbers = [phone_digits(phone) for phone in customer.phones]
    fields: dict[str, Any] = {
        "name_search": fold_text(customer.name),
        "emails_search": [fold_text(email) for email in customer.emails],
        "phone_digits": numbers,
        "search_grams": customer_grams(customer.name, customer.emails, numbers),
        "sort_id": customer.id,
        "search_version": SEARCH_VERSION,
    }
    if is_sample(customer.id):
        fields[SAMPLE_FIELD] = True
    return fields


def token_prefix_range(prefix: str) -> dict[str, Any]:
    """Documents with a ``search_tokens`` element starting with ``prefix`` (a range on the
    multikey index; the caller checks the rest)."""
    return {"search_tokens": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}}


def fragment_conditions(
    name: str | None, email: str | None, phone: str | None, frequencies: Mapping[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(leads, checks)`` for the fragment filters. A lead is an indexed clause giving a
    superset of the matches; the checks alone decide, so a lead may be dropped when another
    one already uses its field. All grams compete for ONE lead: two equalities on the same
    array would need ``$and``, a collection scan on the stand-in."""
    leads: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    pool: list[str] = []
    if name:
        folded = fold_text(name)
        if len(folded) >= GRAM:
            pool += fragment_grams(NAME, folded)
            checks.append({"name_search": {"$regex": re.escape(folded)}})
        elif cjk_bigrams(folded):  # two CJK characters: their bigram is indexed
            pool.append(NAME + folded)
            checks.append({"name_search": {"$regex": re.escape(folded)}})
        else:  # too short for a gram: the start of a word of the name
            if words(folded):
                leads.append(token_prefix_range(max(words(folded), key=len)))
            checks.append({"name_search": {"$regex": _WORD_START + re.escape(folded)}})
    if email:
        folded = fold_text(email)
        if len(folded) >= GRAM:
            pool += fragment_grams(EMAIL, folded)
        else:  # the start of an e-mail, its local part, domain or a label of it
            leads.append(token_prefix_range(folded))
        checks.append({"emails_search": {"$regex": re.escape(folded)}})
    if phone:
        number = digits(phone)
        if len(number) >= GRAM:
            pool += fragment_grams(PHONE, number)
        elif number:  # the start of a phone's digits
            leads.append(token_prefix_range(number))
        checks.append({"phone_digits": {"$regex": re.escape(number)}})
    if pool:
        leads.insert(0, {"search_grams": pick_gram(pool, frequencies)})
    return leads, checks


def cjk_word_conditions(
    cjk_words: list[str], frequencies: Mapping[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(leads, checks)`` for search words in CJK script (folded, two characters or more):
    such text has no spaces between its words, so a word of the query is any fragment of
    the name (``北京测试科技有限公司`` is found by ``科技``), looked up by one of its grams."""
    pool: list[str] = []
    checks: list[dict[str, Any]] = []
    for word in cjk_words:
        pool += fragment_grams(NAME, word) if len(word) >= GRAM else [NAME + word]
        checks.append({"name_search": {"$regex": re.escape(word)}})
    leads = [{"search_grams": pick_gram(pool, frequencies)}] if pool else []
    return leads, checks


def first_per_field(leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The leads whose fields no earlier lead uses (their checks keep the results exact)."""
    used: set[str] = set()
    kept = []
    for lead in leads:
        if used.isdisjoint(lead):
            kept.append(lead)
            used.update(lead)
    return kept


@dataclass
class Sample:
    """The sampled documents' sort keys (ascending, per sort field) and gram counts."""

    keys: dict[str, list[str]] = field(default_factory=dict)
    grams: Counter[str] = field(default_factory=Counter)
    size: int = 0
    read_at: float = 0.0


async def read_sample(collection: AsyncCollection[dict[str, Any]]) -> Sample:
    projection = {name: 1 for name in ("search_grams", *SORT_FIELDS)}
    sample = Sample(keys={name: [] for name in SORT_FIELDS}, read_at=time.monotonic())
    async for document in collection.find({SAMPLE_FIELD: True}, projection):
        sample.size += 1
        sample.grams.update(document.get("search_grams") or ())
        for name in SORT_FIELDS:
            value = document.get(name)
            if isinstance(value, str):
                sample.keys[name].append(value)
    for values in sample.keys.values():
        values.sort()
    return sample


def range_clause(
    key: str, start: str | None, start_inclusive: bool, end: str | None, descending: bool
) -> dict[str, Any]:
    """``key`` beyond ``start`` and before ``end`` in the sort direction (either may be
    absent)."""
    bounds: dict[str, Any] = {}
    if start is not None:
        bounds[("$lt" if descending else "$gt") + ("e" if start_inclusive else "")] = start
    if end is not None:
        bounds["$gt" if descending else "$lt"] = end
    return {key: bounds} if bounds else {}


def window_ends(keys: list[str], after: str | None, descending: bool) -> list[str]:
    """The sampled keys beyond ``after`` in the sort direction, nearest first."""
    if descending:
        return [k for k in reversed(keys) if after is None or k < after]
    return [k for k in keys if after is None or k > after]
