"""Plans are pure functions of (operation text, operation name) for one supergraph: plan
each operation once and keep the most recently used plans in a bounded LRU."""

from __future__ import annotations

from graphql import DocumentNode

from gateway.lru import LRUCache
from gateway.planning.plan import QueryPlan
from gateway.planning.planner import build_query_plan
from gateway.supergraph.model import Supergraph


class QueryPlanner:
    def __init__(self, supergraph: Supergraph, cache_size: int = 512) -> None:
        self.supergraph = supergraph
        self._plans: LRUCache[tuple[str, str | None], QueryPlan] = LRUCache(cache_size)
        self.hits = 0
        self.misses = 0

    def plan(
        self, document: DocumentNode, operation_text: str, operation_name: str | None
    ) -> QueryPlan:
        """The plan of ``document`` (parsed from ``operation_text``, already validated)."""
        key = (operation_text, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self.hits += 1
            return plan
        self.misses += 1
        plan = build_query_plan(document, operation_name, self.supergraph)
        self._plans.put(key, plan)
        return plan

    def __len__(self) -> int:
        return len(self._plans)
