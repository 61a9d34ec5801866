"""Query planning: operation + supergraph -> a plan of plain data (Sequence, Parallel, Fetch,
Flatten), cached by operation text and name."""

from gateway.planning.cache import QueryPlanner
from gateway.planning.errors import PlanningError
from gateway.planning.plan import (
    LIST_STEP,
    Condition,
    Fetch,
    FieldRequirement,
    Flatten,
    FragmentRequirement,
    Parallel,
    PlanNode,
    QueryPlan,
    Sequence,
    TypeRequirement,
)
from gateway.planning.planner import build_query_plan
from gateway.planning.serialize import plan_to_data

__all__ = [
    "LIST_STEP",
    "Condition",
    "Fetch",
    "FieldRequirement",
    "Flatten",
    "FragmentRequirement",
    "Parallel",
    "PlanNode",
    "PlanningError",
    "QueryPlan",
    "QueryPlanner",
    "Sequence",
    "TypeRequirement",
    "build_query_plan",
    "plan_to_data",
]
