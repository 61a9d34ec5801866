"""Customer queries (scope, filters, prefix search) as MongoDB filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crm_common.errors import BadUserInput
from crm_common.fragments import cjk_bigrams
from customers.adapters.customer_search import (
    cjk_word_conditions,
    first_per_field,
    fragment_conditions,
)
from customers.domain.values import fold, words
from customers.service_layer.ports import (
    CustomerQuery,
    Scope,
)


def scope_filter(scope: Scope | None) -> dict[str, Any]:
    if scope is None or scope.all:
        return {}
    if scope.nothing:
        return {"_id": {"$in": []}}
    keys: list[str] = []
    if scope.owner_id is not None:
        keys.append(f"owner:{scope.owner_id}")
    if scope.team is not None:
        keys.append(f"team:{scope.team}")
    if not keys:
        return {}
    return {"visibility": {"$in": keys}}


def prefix_conditions(prefixes: list[str]) -> list[dict[str, Any]]:
    """Documents with, for each prefix, a search token starting with it. The longest prefix
    is a range on the indexed ``search_tokens``; on an array a range may be met by two
    different elements, so a regular expression over ``search_text`` (the same tokens as one
    string) decides. (A ``^`` regex, ``$elemMatch``, ``$all`` or ``$and`` on the array is a
    scan on the stand-in.)"""
    if not prefixes:
        return []
    longest = max(prefixes, key=len)
    lookaheads = "".join(f"(?=.* {re.escape(prefix)})" for prefix in prefixes)
    return [
        {"search_tokens": {"$gte": longest, "$lt": longest[:-1] + chr(ord(longest[-1]) + 1)}},
        {"search_text": {"$regex": "^" + lookaheads}},
    ]


def to_filter(query: CustomerQuery, gram_counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The query as one flat filter, its most selective indexed clause first (the stand-in
    looks up the first clause that has an index and checks the others on its candidates).
    ``gram_counts``: how often each gram occurs in the sample, to pick the rarest."""
    leads, checks = fragment_conditions(
        query.name_contains, query.email_contains, query.phone_contains, gram_counts or {}
    )
    if query.search:
        search_words = sorted(set(words(query.search)))
        if not search_words:
            # Only punctuation (".*"): nothing a word could start with.
            raise BadUserInput("search: give at least one word or number", field="search")
        cjk_words = [word for word in search_words if len(word) >= 2 and cjk_bigrams(word)]
        cjk_leads, cjk_checks = cjk_word_conditions(cjk_words, gram_counts or {})
        leads = cjk_leads + leads
        checks += cjk_checks
        prefixes = [word for word in search_words if word not in cjk_words]
        if prefixes:
            prefix_range, *prefix_checks = prefix_conditions(prefixes)
            leads.append(prefix_range)
            checks += prefix_checks
    conditions = first_per_field(leads)
    if query.lifecycles:
        conditions.append({"lifecycle": {"$in": [stage.value for stage in query.lifecycles]}})
    if query.owner_id is not None:
        conditions.append({"visibility": f"owner:{query.owner_id}"})
    if query.kind is not None:
        conditions.append({"kind": query.kind.value})
    if query.tag is not None:
        conditions.append({"tags_search": fold(query.tag)})
    if query.company_id is not None:
        conditions.append({"company_id": query.company_id})
    if query.source_channel is not None:
        conditions.append({"source.channel": query.source_channel})
    if query.source_campaign is not None:
        conditions.append({"source.campaign": query.source_campaign})
    period: dict[str, Any] = {}
    if query.created_from is not None:
        period["$gte"] = query.created_from
    if query.created_to is not None:
        period["$lt"] = query.created_to
    if period:
        conditions.append({"created_at": period})
    scope = scope_filter(query.scope)
    if scope:
        conditions.append(scope)
    return flatten(conditions + checks)


def narrowed(query: CustomerQuery, conditions: Mapping[str, Any]) -> bool:
    """Whether the filter has a selective indexed clause (then its candidates are read
    whole and sorted); otherwise a list is read in windows of its sort key."""
    if not conditions.keys().isdisjoint({"search_grams", "search_tokens", "tags_search"}):
        return True
    if "$and" in conditions:  # a scan on the stand-in whatever the window: read it once
        return True
    if query.company_id is not None or query.owner_id is not None:
        return True
    scope = query.scope
    # A rep's own customers: fewer than any window would read. A manager's team is a
    # large share of the archive: windows.
    return scope is not None and (scope.nothing or (scope.owner_id is not None and not scope.team))


def flatten(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """One flat document where the fields differ (the stand-in plans ``$and`` badly); a
    second condition on a field already used goes into ``$and``. The first condition on a
    field is the one indexes see first, so the most selective come first."""
    flat: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for condition in conditions:
        if any(key in flat for key in condition):
            rest.append(condition)
        else:
            flat.update(condition)
    if rest:
        flat["$and"] = rest
    return flat
