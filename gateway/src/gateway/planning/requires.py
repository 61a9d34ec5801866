"""``@requires``: the fields a subgraph needs in the representations of an entity fetch.

For a field ``f @requires(fields: "...")`` resolved by the entity fetch ``child`` (under the
fetch ``group`` that holds the entities at ``path``), every required field is fetched before
``child`` runs, under ``group``:

- in ``group`` itself when its subgraph resolves the field without @requires of its own;
  the nested part of the field is planned like any client selection, so parts owned by other
  subgraphs are joined in (their entity fetches become prerequisites of ``child`` too);
- else by a sibling entity fetch at ``path`` to a subgraph that resolves it; when that
  subgraph needs @requires for it in turn, those are planned first (transitive @requires).

A field of the current fetch's own subgraph that @requires anything is never resolved inline
(its inputs would be missing): it goes to an entity fetch to that same subgraph (see
``needs_own_fetch``).

Required fields with arguments, or whose response key the client uses for something else, are
fetched under an alias (``_fed_<name>_<digest>``) that the requirement names, so a field
required twice with different arguments, or also selected by the client with other
arguments, keeps both values apart. A fetch never carries two different requirements of one
field: the second one gets an entity fetch of its own (``conflicts``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Protocol

from graphql import FieldNode, InlineFragmentNode, NameNode, SelectionNode, print_ast

from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.field_sets import parse_field_set
from gateway.planning.selections import (
    FieldSelection,
    FragmentSelection,
    Selection,
    add_plain_fields,
)
from gateway.supergraph.model import Supergraph


class Walk(Protocol):
    """What requires planning uses of the planner's walk."""

    supergraph: Supergraph
    touched: list[FetchGroup] | None

    def graphs(self, type_name: str, field_name: str) -> list[str]: ...

    def entity_child(
        self,
        group: FetchGroup,
        type_name: str,
        field_name: str,
        graphs: list[str],
        path: tuple[str, ...],
        level_out: list[Selection],
        *,
        object_type: str | None = None,
        avoid: Collection[FetchGroup] = (),
    ) -> FetchGroup: ...

    def plan_field(
        self, group: FetchGroup, parent_type: str, node: FieldNode, path: tuple[str, ...]
    ) -> FieldSelection: ...


def needs_own_fetch(supergraph: Supergraph, group: FetchGroup, type_name: str, name: str) -> bool:
    """Whether a field ``group``'s subgraph resolves must still come from a later entity
    fetch: it @requires fields there, which only representations carry."""
    return supergraph.requires(type_name, name, group.graph) is not None


def conflicts(child: FetchGroup, type_name: str, requires: str) -> bool:
    """Whether ``child`` already carries a different requirement of a field ``requires``
    names (the same field with other arguments or sub-fields)."""
    existing = {
        s.name: s for s in child.requirements.get(type_name, ()) if isinstance(s, FieldSelection)
    }
    for node in _fields(parse_field_set(requires)):
        other = existing.get(node.name.value)
        if other is not None and other.alias not in (_alias_for(node), _digest_alias(node)):
            return True
    return False


def plan_requires(
    walk: Walk,
    group: FetchGroup,
    child: FetchGroup,
    type_name: str,
    requires: str,
    path: tuple[str, ...],
    level_out: list[Selection],
) -> None:
    """Fetch the @requires fields before ``child``, and carry them in its representations."""
    for node in _fields(parse_field_set(requires)):
        name = node.name.value
        graphs = walk.graphs(type_name, name)
        outer, walk.touched = walk.touched, []
        try:
            if group.graph in graphs and not needs_own_fetch(
                walk.supergraph, group, type_name, name
            ):
                alias = _select(walk, group, level_out, type_name, node, path)
                before: list[FetchGroup] = []
            else:
                avoid = [child, *_dependents(group, child)]
                sibling = walk.entity_child(
                    group, type_name, name, graphs, path, level_out, avoid=avoid
                )
                entity = sibling.entity_selections.setdefault(type_name, [])
                alias = _select(walk, sibling, entity, type_name, node, path)
                nested = walk.supergraph.requires(type_name, name, sibling.graph)
                if nested:
                    plan_requires(walk, group, sibling, type_name, nested, path, level_out)
                before = [sibling]
            touched = walk.touched
        finally:
            walk.touched = outer
        if outer is not None:
            outer.extend(touched)
        for fetched in [*before, *touched]:
            top = fetched.top_under(group)
            if top is None or top in child.depends_on:
                continue
            if top is child or top.depends_transitively_on(child):
                raise PlanningError(
                    f"{type_name}: @requires({requires}) of a field of {child.graph} needs "
                    "a fetch that waits for that field"
                )
            child.depends_on.append(top)
        add_plain_fields(child.requirements.setdefault(type_name, []), [_requirement(node, alias)])


def _fields(selections: Collection[SelectionNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for s in selections:
        if isinstance(s, FieldNode):
            out.append(s)
        elif isinstance(s, InlineFragmentNode):
            out.extend(_fields(s.selection_set.selections))
    return out


def _has_arguments(node: FieldNode) -> bool:
    if node.arguments:
        return True
    subs = node.selection_set.selections if node.selection_set else ()
    return any(_has_arguments(s) for s in _fields(subs))


def _alias_for(node: FieldNode) -> str | None:
    """The alias a required field is fetched under: one per distinct printed field."""
    return _digest_alias(node) if _has_arguments(node) else None


def _select(
    walk: Walk,
    group: FetchGroup,
    target: list[Selection],
    type_name: str,
    node: FieldNode,
    path: tuple[str, ...],
) -> str | None:
    """Plan a required field into a selection of ``group``, aliased when it must not merge
    with the field of that response key that the selection has (see the module doc); the
    alias used."""
    alias = _alias_for(node)
    if alias is None and _clashes(target, _plain(node)):
        alias = _digest_alias(node)
    if alias is not None:
        node = FieldNode(
            alias=NameNode(value=alias),
            name=node.name,
            arguments=node.arguments,
            directives=(),
            selection_set=node.selection_set,
        )
    add_plain_fields(target, [walk.plan_field(group, type_name, node, path)])
    return alias


def _digest_alias(node: FieldNode) -> str:
    digest = hashlib.sha1(print_ast(node).encode(), usedforsecurity=False).hexdigest()[:6]
    return f"_fed_{node.name.value}_{digest}"


def _clashes(target: list[Selection], planned: FieldSelection) -> bool:
    """Whether merging ``planned`` into ``target`` would read another field's value at one
    of its response keys (a client alias, directives), at any depth."""
    for s in _response_key_fields(target, planned.response_key):
        if s.name != planned.name or s.alias is not None or s.directives or s.arguments:
            return True
        for sub in planned.selections or ():
            if isinstance(sub, FieldSelection) and _clashes(s.selections or [], sub):
                return True
    return False


def _response_key_fields(selections: list[Selection], key: str) -> list[FieldSelection]:
    found: list[FieldSelection] = []
    for s in selections:
        if isinstance(s, FieldSelection):
            if s.response_key == key:
                found.append(s)
        else:
            found.extend(_response_key_fields(s.selections, key))
    return found


def _requirement(node: FieldNode, alias: str | None) -> FieldSelection:
    """The field as representations carry it: its name, read from its alias if fetched
    under one; nested fields as the field set names them, fragments kept (with
    ``__typename`` beside them, which tells the fragments apart)."""
    required = _plain(node)
    required.alias = alias
    return required


def _plain(node: FieldNode) -> FieldSelection:
    subs = node.selection_set.selections if node.selection_set else None
    return FieldSelection(
        node.name.value, selections=_plain_selections(subs) if subs is not None else None
    )


def _plain_selections(selections: Collection[SelectionNode]) -> list[Selection]:
    out: list[Selection] = []
    for s in selections:
        if isinstance(s, FieldNode):
            out.append(_plain(s))
        elif isinstance(s, InlineFragmentNode):
            nested = _plain_selections(s.selection_set.selections)
            if s.type_condition is None:
                out.extend(nested)
            else:
                if not any(isinstance(o, FieldSelection) and o.name == "__typename" for o in out):
                    out.insert(0, FieldSelection("__typename"))
                out.append(FragmentSelection(s.type_condition.name.value, (), nested))
    return out


def _dependents(group: FetchGroup, child: FetchGroup) -> list[FetchGroup]:
    """The children of ``group`` that wait for ``child``: none may supply its inputs."""
    return [c for c in group.children if c.depends_transitively_on(child)]
