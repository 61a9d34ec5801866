"""@interfaceObject: a subgraph that knows an entity interface as one object type.

Such a subgraph adds fields to every implementation, but knows neither the implementations
nor which one an object is. So a field only interface objects provide, met on an
implementation, is asked of them with the interface's name in the representations; and under
a field such a subgraph returns, what needs the real type (``__typename``, fragments on an
implementation, the interface's own fields) goes to a subgraph that owns the interface
(``interface_owners``). Objects may reach an entity fetch before or after their concrete
``__typename`` arrived, so its requirements name the interface and every implementation
(``implementations_of_interface_object``, used when the plan is frozen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import FieldNode, SelectionNode

from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.requires import conflicts, plan_requires
from gateway.planning.schema_types import possible_types
from gateway.planning.selections import (
    FragmentSelection,
    Selection,
    add_plain_fields,
    conditional_block,
    printed,
    typename_field,
)
from gateway.supergraph.model import Supergraph

if TYPE_CHECKING:
    from gateway.planning.planner import Conditions, _Planner


def implementations_of_interface_object(supergraph: Supergraph, type_name: str) -> tuple[str, ...]:
    """The object types of an interface that some subgraph knows as an @interfaceObject
    (none for any other type)."""
    ownership = supergraph.types.get(type_name)
    if ownership is None or not ownership.interface_object_graphs:
        return ()
    return tuple(t for t in possible_types(supergraph.schema, type_name) if t != type_name)


def interface_owners(walk: _Planner, interface: str) -> list[str]:
    """Subgraphs that resolve an entity interface by key (not as @interfaceObject)."""
    ownership = walk.supergraph.types.get(interface)
    if ownership is None:
        return []
    return [
        k.graph
        for k in ownership.keys
        if k.resolvable and k.graph not in ownership.interface_object_graphs
    ]


def abstract_fragment(
    walk: _Planner,
    group: FetchGroup,
    interface: str,
    selection: SelectionNode,
    path: tuple[str, ...],
    level_out: list[Selection],
    conditions: Conditions,
) -> None:
    """A fragment on an implementation of an @interfaceObject's interface: the owner of
    the interface knows the real type, so it evaluates the fragment."""
    owners = interface_owners(walk, interface)
    child = walk.entity_child(group, interface, "__typename", owners, path, level_out)
    entity = child.entity_selections.setdefault(interface, [])
    add_plain_fields(entity, [typename_field()])
    target = conditional_block(entity, conditions)
    type_condition, directives, nested = walk.fragment_parts(selection)
    assert type_condition is not None
    for object_type in walk.supergraph.possible_types_in(interface, child.graph):
        if not walk.applies(type_condition, object_type):
            continue
        per_type: list[Selection] = []
        walk.plan_selections(child, object_type, nested, path, per_type, per_type, ())
        if per_type:
            block = FragmentSelection(object_type, directives, per_type)
            target.append(block)


def via_interface_object(
    walk: _Planner,
    group: FetchGroup,
    type_name: str,
    selection: FieldNode,
    path: tuple[str, ...],
    level_out: list[Selection],
    conditions: Conditions,
) -> None:
    """A field of an object type that only an @interfaceObject subgraph resolves, for
    one of the interfaces the type implements: ask it with the interface's typename."""
    name = selection.name.value
    object_type = walk.schema.get_type(type_name)
    for interface in getattr(object_type, "interfaces", ()):
        ownership = walk.supergraph.types.get(interface.name)
        if ownership is None:
            continue
        graphs = [
            g for g in walk.graphs(interface.name, name) if g in ownership.interface_object_graphs
        ]
        if not graphs:
            continue
        child = walk.entity_child(
            group, interface.name, name, graphs, path, level_out, object_type=type_name
        )
        requires = walk.supergraph.requires(interface.name, name, child.graph)
        avoid: list[FetchGroup] = []
        while requires and conflicts(child, type_name, requires):
            avoid.append(child)
            child = walk.entity_child(
                group, interface.name, name, [child.graph], path, level_out,
                object_type=type_name, avoid=avoid,
            )  # fmt: skip
        child.typename_as[type_name] = interface.name
        if requires:
            # Written against the interface, planned on the objects' own type.
            plan_requires(walk, group, child, type_name, requires, path, level_out)
        entity = child.entity_selections.setdefault(interface.name, [])
        target = conditional_block(entity, conditions)
        planned = walk.plan_field(child, interface.name, selection, path)
        if all(printed([planned]) != printed([s]) for s in target):
            target.append(planned)  # each implementation asks it: once is enough
        return
    raise PlanningError(f"no subgraph resolves {type_name}.{name}")
