"""``@skip``/``@include`` on variables as plan-time conditions.

A fetch all of whose selections sit under one variable condition (``extra @include(if: $x)``,
``... @skip(if: $s) { ... }``) is wrapped, with the fetches under it, in a ``Condition`` node:
when the condition excludes them, the executor sends nothing. The directives stay in the
subgraph operations too, so a fetch that does run selects exactly what the client asked.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import BooleanValueNode, VariableDefinitionNode, VariableNode

from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.plan import Condition, PlanNode
from gateway.planning.selections import FieldSelection, Selection

# (variable, whether the selections run when it is true)
VariableCondition = tuple[str, bool]


def selection_condition(selection: Selection) -> VariableCondition | None:
    """The one variable @skip/@include of a selection, if that is its only condition."""
    found: list[VariableCondition] = []
    for directive in selection.directives:
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "if" and isinstance(argument.value, VariableNode):
                found.append((argument.value.name.value, name == "include"))
            else:
                return None
    return found[0] if len(found) == 1 else None


MAX_CONDITIONS = 3


def group_conditions(group: FetchGroup) -> tuple[VariableCondition, ...]:
    """The conditions under which the fetch selects anything: one per distinct variable
    condition when every selection has one (a bare ``__typename`` the planner added aside),
    else none (the fetch always runs)."""
    if group.is_entity:
        selections = [s for per_type in group.entity_selections.values() for s in per_type]
    else:
        selections = group.selections
    conditions = [
        selection_condition(s)
        for s in selections
        if not (isinstance(s, FieldSelection) and s.name == "__typename" and not s.directives)
    ]
    if not conditions or None in conditions:
        return ()
    distinct = tuple(dict.fromkeys(c for c in conditions if c is not None))
    return distinct if len(distinct) <= MAX_CONDITIONS else ()


def conditional(
    node: PlanNode,
    conditions: tuple[VariableCondition, ...],
    definitions: Mapping[str, VariableDefinitionNode],
) -> PlanNode:
    """``node`` run when any of the conditions holds (nested ``Condition`` nodes sharing
    the one node: still one fetch)."""
    if not conditions:
        return node
    (variable, when_true), rest = conditions[0], conditions[1:]
    otherwise = conditional(node, rest, definitions) if rest else None
    definition = definitions.get(variable)
    default = None
    if definition is not None and isinstance(definition.default_value, BooleanValueNode):
        default = definition.default_value.value
    if when_true:
        return Condition(variable, node, otherwise, default)
    return Condition(variable, otherwise, node, default)
