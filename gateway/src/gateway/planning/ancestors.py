"""Fields of keyless value types that the current subgraph does not resolve (issue 13,
class 5), reached through the nearest ancestor that another subgraph can be asked about.

A value type (no ``@key``) shared by several subgraphs can have fields that only some of them
resolve. There is no representation of the value itself to send, so the planner goes back up
the response path to the nearest ancestor it can send: an entity whose key the ancestor's
subgraph has (a "parent entity call": ``_entities`` for that entity selecting the chain of
fields down to the value), or the root of a query (the ``@shareable`` root field re-queried in
the other subgraph). Every field of the chain must be resolvable in the target subgraph; the
results merge into the same objects, as the chain selects the client's response keys.

The walk keeps a stack of the levels it is in (``Level``): each object type it plans
selections on, with its fetch group, response path, selection and the field that led there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphql import FieldNode

from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.selections import (
    FieldSelection,
    FragmentSelection,
    Selection,
    conditional_block,
    typename_field,
)

if TYPE_CHECKING:
    from gateway.planning.planner import Conditions, _Planner


@dataclass(frozen=True, eq=False)
class Level:
    """One object type the walk plans selections on.

    ``group`` is None at the root of the operation. ``via`` is the field (as the client
    selects it: alias, arguments, directives) on ``via_parent`` that led to this level;
    ``fragment`` the object type when the field's own type is abstract.
    """

    group: FetchGroup | None
    type_name: str
    path: tuple[str, ...]
    selections: list[Selection] | None
    via: FieldSelection | None = None
    via_parent: str | None = None
    fragment: str | None = None


class Levels:
    def __init__(self, root_type: str) -> None:
        self.stack: list[Level] = [Level(None, root_type, (), None)]

    @contextmanager
    def entered(self, level: Level) -> Iterator[None]:
        self.stack.append(level)
        try:
            yield
        finally:
            self.stack.pop()


def is_keyless(walk: _Planner, type_name: str, graphs: list[str]) -> bool:
    """No subgraph among ``graphs`` resolves the type by a key: a value type there."""
    return not any(walk.supergraph.resolvable_keys(type_name, g) for g in graphs)


def plan_via_ancestor(
    walk: _Planner,
    type_name: str,
    selection: FieldNode,
    path: tuple[str, ...],
    graphs: list[str],
    conditions: Conditions,
) -> bool:
    """Plan ``selection`` (on the keyless ``type_name`` at ``path``, the innermost level)
    in one of ``graphs`` through the nearest ancestor that subgraph can be asked about.
    False when there is none."""
    stack = walk.levels.stack
    for graph in graphs:
        for index in range(len(stack) - 2, -1, -1):
            chain = stack[index + 1 :]
            below = chain[0]
            assert below.via is not None
            assert below.via_parent is not None
            if graph not in walk.graphs(below.via_parent, below.via.name):
                break  # the chain is not resolvable in graph from any higher ancestor
            ancestor = stack[index]
            target = _ancestor_selections(walk, ancestor, graph, selection.name.value)
            if target is None:
                continue
            group, selections = target
            for level in chain:
                selections = _chain_step(selections, level)
            block = conditional_block(selections, conditions)
            block.append(walk.plan_field(group, type_name, selection, path))
            return True
    return False


def _ancestor_selections(
    walk: _Planner, ancestor: Level, graph: str, field_name: str
) -> tuple[FetchGroup, list[Selection]] | None:
    """The fetch to ``graph`` that selects from ``ancestor``, and where in it."""
    if ancestor.group is None:
        if not walk.may_requery_root():
            return None  # a mutation's root field runs once
        root = walk.root_group(graph)
        return root, root.selections
    if ancestor.selections is None or ancestor.group.graph == graph:
        return None
    if walk.usable_key(ancestor.type_name, graph, ancestor.group.graph) is None:
        return None
    child = walk.entity_child(
        ancestor.group,
        ancestor.type_name,
        field_name,
        [graph],
        ancestor.path,
        ancestor.selections,
    )
    return child, child.entity_selections.setdefault(ancestor.type_name, [])


def _chain_step(selections: list[Selection], level: Level) -> list[Selection]:
    """The selection of ``level``'s field inside ``selections`` (shared with the other
    fields that take the same chain), and inside its type's fragment if abstract."""
    via = level.via
    assert via is not None
    field = next(
        (
            s
            for s in selections
            if isinstance(s, FieldSelection)
            and s.selections is not None
            and s.response_key == via.response_key
            and s.name == via.name
            and s.arguments == via.arguments
            and s.directives == via.directives
        ),
        None,
    )
    if field is None:
        field = FieldSelection(via.name, via.alias, via.arguments, via.directives, [])
        if level.fragment is not None:
            field.selections = [typename_field()]
        selections.append(field)
    assert field.selections is not None
    if level.fragment is None:
        return field.selections
    block = next(
        (
            s
            for s in field.selections
            if isinstance(s, FragmentSelection)
            and s.type_condition == level.fragment
            and not s.directives
        ),
        None,
    )
    if block is None:
        block = FragmentSelection(level.fragment)
        field.selections.append(block)
    return block.selections
