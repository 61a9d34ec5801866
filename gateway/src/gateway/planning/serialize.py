"""A plan as JSON-ready plain data: for ``extensions.queryPlan`` and snapshot tests."""

from __future__ import annotations

from typing import Any

from gateway.planning.plan import (
    Condition,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    QueryPlan,
    Sequence,
    requirement_text,
)


def node_to_data(node: PlanNode) -> dict[str, Any]:
    if isinstance(node, Fetch):
        data: dict[str, Any] = {
            "kind": "Fetch",
            "service": node.service,
            "operation": node.operation_text,
        }
        if node.requires:
            data["requires"] = [requirement_text(r) for r in node.requires]
        if node.variable_usages:
            data["variableUsages"] = list(node.variable_usages)
        if node.renames:
            data["outputRewrites"] = [
                {"kind": "KeyRenamer", "path": [*r.path, r.alias], "renameKeyTo": r.response_key}
                for r in node.renames
            ]
        return data
    if isinstance(node, Condition):
        data = {"kind": "Condition", "condition": node.variable}
        if node.default is not None:
            data["default"] = node.default
        if node.if_clause is not None:
            data["ifClause"] = node_to_data(node.if_clause)
        if node.else_clause is not None:
            data["elseClause"] = node_to_data(node.else_clause)
        return data
    if isinstance(node, Flatten):
        if node.more_paths:
            # One request for several positions (merged sibling fetches): all named here.
            return {
                "kind": "Flatten",
                "paths": [list(p) for p in node.paths],
                "node": node_to_data(node.node),
            }
        return {"kind": "Flatten", "path": list(node.path), "node": node_to_data(node.node)}
    kind = "Sequence" if isinstance(node, Sequence) else "Parallel"
    assert isinstance(node, Sequence | Parallel)
    return {"kind": kind, "nodes": [node_to_data(n) for n in node.nodes]}


def plan_to_data(plan: QueryPlan) -> dict[str, Any]:
    return {"kind": "QueryPlan", "node": None if plan.node is None else node_to_data(plan.node)}
