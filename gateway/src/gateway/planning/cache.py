"""Plans are pure functions of (operation text, operation name) for one supergraph: plan
each operation once and keep the most recently used plans in a bounded LRU."""

from __future__ import annotations

import random
import re

from graphql import DocumentNode

from gateway.lru import LRUCache
from gateway.planning.plan import QueryPlan
from gateway.planning.planner import build_query_plan
from gateway.supergraph.model import Supergraph

_PERCENT = re.compile(r"percent\((\d+(?:\.\d+)?)\)")


class QueryPlanner:
    def __init__(self, supergraph: Supergraph, cache_size: int = 512) -> None:
        self.supergraph = supergraph
        self._plans: LRUCache[tuple[str, str | None, frozenset[str]], QueryPlan] = LRUCache(
            cache_size
        )
        self._percent_labels = {
            label: float(m.group(1))
            for label in supergraph.override_labels
            if (m := _PERCENT.fullmatch(label))
        }
        self.hits = 0
        self.misses = 0

    def roll_labels(self) -> frozenset[str]:
        """The progressive-override labels on for one request: ``percent(p)`` is on with
        probability p/100 (as Apollo Router rolls them); other labels are off."""
        if not self._percent_labels:
            return frozenset()
        return frozenset(
            label
            for label, percent in self._percent_labels.items()
            if percent >= 100 or (percent > 0 and random.random() * 100 < percent)
        )

    def plan(
        self,
        document: DocumentNode,
        operation_text: str,
        operation_name: str | None,
        labels: frozenset[str] = frozenset(),
    ) -> QueryPlan:
        """The plan of ``document`` (parsed from ``operation_text``, already validated)."""
        key = (operation_text, operation_name, labels)
        plan = self._plans.get(key)
        if plan is not None:
            self.hits += 1
            return plan
        self.misses += 1
        plan = build_query_plan(document, operation_name, self.supergraph, labels)
        self._plans.put(key, plan)
        return plan

    def __len__(self) -> int:
        return len(self._plans)
