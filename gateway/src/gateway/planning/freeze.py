"""Freezing the plan: fetch groups to plain-data plan nodes.

Each cluster of fetch groups becomes one ``Fetch`` (an ``_entities`` operation for entity
fetches) in a ``Flatten`` naming every merge path, followed by its children's nodes: siblings in
parallel, after the siblings their ``@requires`` (or assembled keys) need; siblings of one
level that go to the same subgraph share one fetch when that changes nothing (``_clusters``).
Groups under a variable ``@skip``/``@include`` are wrapped in ``Condition`` nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from graphql import (
    ArgumentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    VariableDefinitionNode,
    VariableNode,
    parse_type,
    print_ast,
)

from gateway.planning.conditions import conditional, group_conditions
from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.field_sets import copy_fields, requirement
from gateway.planning.interface_objects import implementations_of_interface_object
from gateway.planning.merging import alias_conflicts
from gateway.planning.plan import (
    REPRESENTATIONS,
    Fetch,
    Flatten,
    PlanNode,
    TypeRequirement,
    parallel,
    sequence,
)
from gateway.planning.schema_types import possible_types
from gateway.planning.selections import (
    FieldSelection,
    FragmentSelection,
    Selection,
    add_plain_fields,
    printed,
    to_selection_set,
    variables_used,
)
from gateway.supergraph.model import Supergraph

_NOT_A_NAME_CHAR = re.compile(r"[^_0-9A-Za-z]")

_REPRESENTATIONS_DEFINITION = VariableDefinitionNode(
    variable=VariableNode(name=NameNode(value=REPRESENTATIONS)),
    type=parse_type("[_Any!]!", no_location=True),
    default_value=None,
    directives=(),
)
_ENTITIES_ARGUMENT = ArgumentNode(
    name=NameNode(value=REPRESENTATIONS), value=VariableNode(name=NameNode(value=REPRESENTATIONS))
)


class Freezer:
    """Freezes the fetch groups of one operation; numbers its fetches in plan order."""

    def __init__(
        self,
        operation: OperationDefinitionNode,
        variable_definitions: Mapping[str, VariableDefinitionNode],
        supergraph: Supergraph,
    ) -> None:
        self.operation = operation
        self.variable_definitions = variable_definitions
        self.supergraph = supergraph
        self.fetch_count = 0

    def _possible_types(self, type_condition: str) -> tuple[str, ...]:
        return possible_types(self.supergraph.schema, type_condition)

    def _implementations_of_interface_object(self, type_name: str) -> tuple[str, ...]:
        return implementations_of_interface_object(self.supergraph, type_name)

    def node(self, cluster: list[FetchGroup]) -> PlanNode:
        """One fetch for the cluster (one Flatten naming every merge path), then their
        children."""
        fetch = self._fetch(cluster)
        node: PlanNode = fetch
        if cluster[0].is_entity:
            paths = list(dict.fromkeys(g.path for g in cluster))
            node = Flatten(paths[0], fetch, tuple(paths[1:]))
        children = [child for group in cluster for child in group.children]
        if children:
            node = sequence([node, self._children_node(children)])
        conditions = group_conditions(cluster[0])
        if not conditions or (
            # A subscription's plan starts with its root fetch, whatever the variables.
            not cluster[0].is_entity and self.operation.operation == OperationType.SUBSCRIPTION
        ):
            return node
        return conditional(node, conditions, self.variable_definitions)

    def _children_node(self, children: list[FetchGroup]) -> PlanNode:
        """Sibling entity fetches run in parallel, after the siblings their @requires need;
        siblings of one level that go to the same subgraph share one fetch."""
        levels: list[list[FetchGroup]] = []
        done: set[int] = set()
        remaining = list(children)
        while remaining:
            level = [c for c in remaining if all(id(d) in done for d in c.depends_on)]
            if not level:
                raise PlanningError("@requires dependencies form a cycle")
            levels.append(level)
            done.update(id(c) for c in level)
            remaining = [c for c in remaining if id(c) not in done]
        return sequence(
            [parallel([self.node(cluster) for cluster in _clusters(level)]) for level in levels]
        )

    def _fetch(self, cluster: list[FetchGroup]) -> Fetch:
        group = cluster[0]
        index = self.fetch_count
        self.fetch_count += 1
        name = None
        if self.operation.name is not None:
            graph = _NOT_A_NAME_CHAR.sub("_", group.graph)
            name = f"{self.operation.name.value}__{graph}__{index}"

        if group.is_entity:
            per_type = _merged_per_type(g.entity_selections for g in cluster)
            inner: list[Selection] = [
                FragmentSelection(type_name, (), selections)
                for type_name, selections in per_type.items()
            ]
            inner, renames = alias_conflicts(inner, None, group.graph, self.supergraph)
            used = variables_used(inner)
            if REPRESENTATIONS in used:
                raise PlanningError(
                    f"the variable ${REPRESENTATIONS} is reserved by the gateway: rename it"
                )
            selections: list[Selection] = [
                FieldSelection("_entities", arguments=(_ENTITIES_ARGUMENT,), selections=inner)
            ]
            definitions = [_REPRESENTATIONS_DEFINITION]
            operation_type = OperationType.QUERY
        else:
            root = self.supergraph.schema.get_root_type(self.operation.operation)
            assert root is not None
            selections, renames = alias_conflicts(
                group.selections, root.name, group.graph, self.supergraph
            )
            used = variables_used(selections)
            definitions = []
            operation_type = self.operation.operation
        definitions += [self.variable_definitions[v] for v in used]
        operation = OperationDefinitionNode(
            operation=operation_type,
            name=NameNode(value=name) if name else None,
            variable_definitions=tuple(definitions),
            directives=(),
            selection_set=to_selection_set(selections),
        )
        requirements: dict[str, list[Selection]] = {}
        for member in cluster:
            for type_name, fields in member.requirements.items():
                add_plain_fields(requirements.setdefault(type_name, []), copy_fields(fields))
        typename_as: dict[str, str] = {}
        for member in cluster:
            typename_as.update(member.typename_as)
        for type_name in list(requirements):
            for object_type in self._implementations_of_interface_object(type_name):
                # Objects an @interfaceObject subgraph returned carry the interface's name
                # until a fetch from its owner gives their concrete type: whichever they
                # carry when this fetch runs, they are sent (as the interface to an
                # interface-object subgraph).
                if object_type not in requirements:
                    requirements[object_type] = requirements[type_name]
                    if self.supergraph.is_interface_object(type_name, group.graph):
                        typename_as[object_type] = type_name
        requires = tuple(
            TypeRequirement(
                type_name,
                tuple(requirement(s, self._possible_types) for s in fields),
                typename_as.get(type_name),
            )
            for type_name, fields in requirements.items()
        )
        return Fetch(
            renames=renames,
            service=group.graph,
            operation_text=print_ast(operation, max_indent_depth=0),
            requires=requires,
            variable_usages=tuple(used),
            path=group.path,
            operation_name=name,
        )


def _clusters(level: list[FetchGroup]) -> list[list[FetchGroup]]:
    """Group the entity fetches of one level that can share one request to their subgraph.

    Every representation of a request gets the selection of its type, so fetches only merge
    when that changes nothing: a type they share must have the same selection and the same
    requirements, and response keys they share must be selected identically (else the
    merged operation would be invalid).
    """
    clusters: list[tuple[list[FetchGroup], dict[str, str], dict[str, str]]] = []
    for group in level:
        per_type = {
            type_name: printed(selections)
            + " / "
            + " ".join(
                f"{t}: {printed(fields)}"
                for t, fields in group.requirements.items()
                if group.typename_as.get(t, t) == type_name
            )
            for type_name, selections in group.entity_selections.items()
        }
        shapes = _response_shapes(
            [s for selections in group.entity_selections.values() for s in selections]
        )
        for cluster, cluster_types, cluster_shapes in clusters:
            if (
                cluster[0].graph == group.graph
                and group_conditions(cluster[0]) == group_conditions(group)
                and all(cluster_types.get(t, p) == p for t, p in per_type.items())
                and all(cluster_shapes.get(k, v) == v for k, v in shapes.items())
            ):
                cluster.append(group)
                cluster_types.update(per_type)
                cluster_shapes.update(shapes)
                break
        else:
            clusters.append(([group], per_type, shapes))
    return [cluster for cluster, _, _ in clusters]


def _response_shapes(selections: list[Selection]) -> dict[str, str]:
    """Printed field per response key, fragments looked through."""
    shapes: dict[str, str] = {}
    for selection in selections:
        if isinstance(selection, FieldSelection):
            shape = printed([selection])
            previous = shapes.setdefault(selection.response_key, shape)
            if previous != shape:
                shapes[selection.response_key] = "<conflict>"
        else:
            for key, shape in _response_shapes(selection.selections).items():
                previous = shapes.setdefault(key, shape)
                if previous != shape:
                    shapes[key] = "<conflict>"
    return shapes


def _merged_per_type(
    per_group: Iterable[dict[str, list[Selection]]],
) -> dict[str, list[Selection]]:
    # Merged groups select a type they share identically (see _clusters): keep one copy.
    merged: dict[str, list[Selection]] = {}
    for entity_selections in per_group:
        for type_name, selections in entity_selections.items():
            merged.setdefault(type_name, selections)
    return merged
