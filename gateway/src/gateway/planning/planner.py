"""From a validated client operation and the supergraph to a query plan: a pure function.

The walk, per selection set, in the subgraph of the fetch being built ("the current
subgraph"):

- a field the current subgraph resolves stays in its fetch, and the walk goes down into it;
- any other field goes to an entity fetch to a subgraph that resolves it, one per
  (subgraph, response path) under the current fetch; the entity's ``__typename`` and key
  fields are added to the current fetch at that position so that representations can be
  built from its results, and ``@requires`` fields are fetched there too (or by a sibling
  entity fetch that then runs first);
- named fragments are inlined; fragments on types that cannot apply are dropped; fragments
  carrying directives (``@skip``/``@include``) stay as type-less inline fragments, also around
  the fields moved to entity fetches, so that subgraphs still apply them;
- selections on abstract types are expanded per object type the subgraph can return, so the
  planner only ever reasons about object types.

Root fields are grouped by subgraph: queries fetch every group in parallel; mutations keep
document order (consecutive fields of one subgraph share a fetch).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLOutputType,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    VariableDefinitionNode,
    VariableNode,
    get_operation_ast,
    is_abstract_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse,
    parse_type,
    print_ast,
)

from gateway.planning.plan import (
    LIST_STEP,
    Fetch,
    FieldRequirement,
    Flatten,
    OperationKind,
    PlanNode,
    QueryPlan,
    TypeRequirement,
    parallel,
    sequence,
)
from gateway.planning.selections import (
    FieldSelection,
    FragmentSelection,
    Selection,
    add_plain_fields,
    conditional_block,
    to_selection_set,
    typename_field,
    variables_used,
)
from gateway.supergraph.model import EntityKey, Supergraph

REPRESENTATIONS = "representations"
_NOT_A_NAME_CHAR = re.compile(r"[^_0-9A-Za-z]")

Conditions = tuple[tuple[DirectiveNode, ...], ...]


class PlanningError(Exception):
    """The operation cannot be planned over this supergraph."""


@dataclass(eq=False)
class _FetchGroup:
    """A fetch while it is being built."""

    graph: str
    path: tuple[str, ...]
    is_entity: bool
    selections: list[Selection] = field(default_factory=list)  # root fetch
    entity_selections: dict[str, list[Selection]] = field(default_factory=dict)  # per type
    requirements: dict[str, list[Selection]] = field(default_factory=dict)  # per type
    children: list[_FetchGroup] = field(default_factory=list)
    depends_on: list[_FetchGroup] = field(default_factory=list)  # siblings, for @requires

    def child(self, graph: str, path: tuple[str, ...]) -> _FetchGroup | None:
        return next((c for c in self.children if c.graph == graph and c.path == path), None)


@lru_cache(maxsize=1024)
def _parse_field_set(field_set: str) -> tuple[FieldNode, ...]:
    operation = parse(f"{{ {field_set} }}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return tuple(s for s in operation.selection_set.selections if isinstance(s, FieldNode))


def _field_set(field_set: str) -> list[FieldSelection]:
    """Fresh selections for a key or @requires field set (the planner mutates them)."""

    def convert(node: FieldNode) -> FieldSelection:
        subs = node.selection_set.selections if node.selection_set else None
        return FieldSelection(
            node.name.value,
            selections=(
                [convert(s) for s in subs if isinstance(s, FieldNode)] if subs is not None else None
            ),
        )

    return [convert(node) for node in _parse_field_set(field_set)]


def _requirement(selection: Selection) -> FieldRequirement:
    assert isinstance(selection, FieldSelection)
    return FieldRequirement(
        selection.name, tuple(_requirement(s) for s in selection.selections or ())
    )


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, int]:
    """The named type and how many list levels wrap it."""
    depth = 0
    while True:
        if is_non_null_type(type_):
            type_ = type_.of_type
        elif is_list_type(type_):
            depth += 1
            type_ = type_.of_type
        else:
            return type_, depth  # type: ignore[return-value]


_REPRESENTATIONS_DEFINITION = VariableDefinitionNode(
    variable=VariableNode(name=NameNode(value=REPRESENTATIONS)),
    type=parse_type("[_Any!]!", no_location=True),
    default_value=None,
    directives=(),
)
_ENTITIES_ARGUMENT = ArgumentNode(
    name=NameNode(value=REPRESENTATIONS), value=VariableNode(name=NameNode(value=REPRESENTATIONS))
)


class _Planner:
    def __init__(
        self, document: DocumentNode, operation_name: str | None, supergraph: Supergraph
    ) -> None:
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            raise PlanningError(f"no operation named {operation_name!r} in the document")
        self.operation = operation
        self.supergraph = supergraph
        self.schema = supergraph.schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variable_definitions = {
            d.variable.name.value: d for d in operation.variable_definitions or ()
        }
        self.fetch_count = 0

    # -- the walk -------------------------------------------------------------------------

    def plan(self) -> QueryPlan:
        operation_type = self.operation.operation
        if operation_type == OperationType.SUBSCRIPTION:
            raise PlanningError("subscriptions are not supported by this gateway")
        kind: OperationKind = "mutation" if operation_type == OperationType.MUTATION else "query"
        root_type = self.schema.get_root_type(operation_type)
        if root_type is None:
            raise PlanningError(f"the supergraph has no {kind} type")
        roots: list[_FetchGroup] = []
        self._plan_root(root_type.name, self.operation.selection_set.selections, (), roots)
        nodes = [self._node([group]) for group in roots]
        if not nodes:
            return QueryPlan(kind, None)
        return QueryPlan(kind, sequence(nodes) if kind == "mutation" else parallel(nodes))

    def _plan_root(
        self,
        root_type: str,
        selections: Collection[SelectionNode],
        conditions: Conditions,
        roots: list[_FetchGroup],
    ) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue  # __typename, __schema, __type: the gateway answers them
                graphs = self.supergraph.resolving_graphs(root_type, name)
                if not graphs:
                    raise PlanningError(f"no subgraph resolves {root_type}.{name}")
                group = self._root_group(roots, graphs)
                target = conditional_block(group.selections, conditions)
                target.append(self._field(group, root_type, selection, ()))
            else:
                _, directives, nested = self._fragment_parts(selection)
                more = (directives,) if directives else ()
                self._plan_root(root_type, nested, conditions + more, roots)

    def _root_group(self, roots: list[_FetchGroup], graphs: list[str]) -> _FetchGroup:
        if self.operation.operation == OperationType.MUTATION:
            # Mutations run in document order: only the latest group may take the field.
            reusable = roots[-1:] if roots and roots[-1].graph in graphs else []
        else:
            reusable = [g for g in roots if g.graph in graphs][:1]
        if reusable:
            return reusable[0]
        group = _FetchGroup(graph=graphs[0], path=(), is_entity=False)
        roots.append(group)
        return group

    def _field(
        self, group: _FetchGroup, parent_type: str, node: FieldNode, path: tuple[str, ...]
    ) -> FieldSelection:
        """The field as ``group`` selects it, its sub-selections planned from there."""
        name = node.name.value
        selection = FieldSelection(
            name,
            node.alias.value if node.alias else None,
            tuple(node.arguments or ()),
            tuple(node.directives or ()),
        )
        if node.selection_set is None:
            return selection
        named, depth = _unwrap(self._field_definition(parent_type, name).type)
        sub_path = (*path, selection.response_key, *([LIST_STEP] * depth))
        nested = node.selection_set.selections
        out: list[Selection] = []
        if is_abstract_type(named):
            # __typename tells the executor (and the response shaping) the runtime type.
            out.append(typename_field())
            for object_type in self.supergraph.possible_types_in(named.name, group.graph):
                per_type: list[Selection] = []
                self._plan_selections(group, object_type, nested, sub_path, per_type, per_type, ())
                if per_type:
                    out.append(FragmentSelection(object_type, (), per_type))
        else:
            self._plan_selections(group, named.name, nested, sub_path, out, out, ())
            if not out:
                out.append(typename_field())
        selection.selections = out
        return selection

    def _plan_selections(
        self,
        group: _FetchGroup,
        type_name: str,
        selections: Collection[SelectionNode],
        path: tuple[str, ...],
        out: list[Selection],
        level_out: list[Selection],
        conditions: Conditions,
    ) -> None:
        """Plan ``selections`` on object type ``type_name`` into ``out`` (within ``group``).

        ``level_out`` is the selection of the enclosing field itself, outside any fragment:
        where keys go, so that they are fetched whatever the fragments' conditions.
        """
        for selection in selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    out.append(
                        FieldSelection(
                            name,
                            selection.alias.value if selection.alias else None,
                            directives=tuple(selection.directives or ()),
                        )
                    )
                    continue
                graphs = self.supergraph.resolving_graphs(type_name, name)
                if group.graph in graphs:
                    out.append(self._field(group, type_name, selection, path))
                    continue
                child = self._entity_child(group, type_name, name, graphs, path, level_out)
                requires = self.supergraph.requires(type_name, name, child.graph)
                if requires:
                    self._plan_requires(group, child, type_name, requires, path, level_out)
                entity = child.entity_selections.setdefault(type_name, [])
                conditional_block(entity, conditions).append(
                    self._field(child, type_name, selection, path)
                )
                continue
            type_condition, directives, nested = self._fragment_parts(selection)
            if type_condition is not None and not self._applies(type_condition, type_name):
                continue
            if directives:
                block = FragmentSelection(None, directives)
                self._plan_selections(
                    group, type_name, nested, path, block.selections, level_out,
                    (*conditions, directives),
                )  # fmt: skip
                if block.selections:
                    out.append(block)
            else:
                self._plan_selections(group, type_name, nested, path, out, level_out, conditions)

    def _entity_child(
        self,
        group: _FetchGroup,
        type_name: str,
        field_name: str,
        graphs: list[str],
        path: tuple[str, ...],
        level_out: list[Selection],
    ) -> _FetchGroup:
        """The entity fetch under ``group`` that will resolve the field, keys wired in."""
        candidates: list[tuple[str, EntityKey]] = []
        for graph in graphs:
            key = self._usable_key(type_name, graph, group.graph)
            if key is not None:
                candidates.append((graph, key))
        if not candidates:
            raise PlanningError(
                f"cannot plan {type_name}.{field_name}: it is resolved by "
                f"{', '.join(graphs) or 'no subgraph'}, which {group.graph} cannot reach "
                "through an entity key"
            )
        # Prefer a subgraph that this position already fetches from: one request fewer.
        graph, key = next(
            ((g, k) for g, k in candidates if group.child(g, path) is not None), candidates[0]
        )
        child = group.child(graph, path)
        if child is None:
            child = _FetchGroup(graph=graph, path=path, is_entity=True)
            group.children.append(child)
        add_plain_fields(level_out, [typename_field(), *_field_set(key.fields)])
        requirement = child.requirements.setdefault(type_name, [])
        add_plain_fields(requirement, [typename_field(), *_field_set(key.fields)])
        return child

    def _usable_key(self, type_name: str, target: str, source: str) -> EntityKey | None:
        """A key by which ``target`` resolves the type and whose fields ``source`` has."""
        for key in self.supergraph.resolvable_keys(type_name, target):
            if all(
                source in self.supergraph.resolving_graphs(type_name, f.name.value)
                for f in _parse_field_set(key.fields)
            ):
                return key
        return None

    def _plan_requires(
        self,
        group: _FetchGroup,
        child: _FetchGroup,
        type_name: str,
        requires: str,
        path: tuple[str, ...],
        level_out: list[Selection],
    ) -> None:
        """Fetch the @requires fields before ``child``, and carry them in its representations.

        Nested required fields are assumed to come from the subgraph of their top field.
        """
        for required in _field_set(requires):
            graphs = self.supergraph.resolving_graphs(type_name, required.name)
            if group.graph in graphs:
                add_plain_fields(level_out, [required])
                continue
            sibling = self._entity_child(group, type_name, required.name, graphs, path, level_out)
            if sibling is child:
                raise PlanningError(f"{type_name}: @requires({requires}) needs its own subgraph")
            add_plain_fields(sibling.entity_selections.setdefault(type_name, []), [required])
            if sibling not in child.depends_on:
                child.depends_on.append(sibling)
        add_plain_fields(child.requirements.setdefault(type_name, []), _field_set(requires))

    # -- schema helpers -------------------------------------------------------------------

    def _field_definition(self, type_name: str, field_name: str) -> GraphQLField:
        type_ = self.schema.get_type(type_name)
        fields = getattr(type_, "fields", None)
        if fields is None or field_name not in fields:
            raise PlanningError(f"unknown field {type_name}.{field_name}")
        definition: GraphQLField = fields[field_name]
        return definition

    def _applies(self, type_condition: str, object_type: str) -> bool:
        if type_condition == object_type:
            return True
        condition = self.schema.get_type(type_condition)
        if condition is None or is_object_type(condition):
            return False
        possible = self.schema.get_possible_types(condition)  # type: ignore[arg-type]
        return any(t.name == object_type for t in possible)

    def _fragment_parts(
        self, selection: SelectionNode
    ) -> tuple[str | None, tuple[DirectiveNode, ...], Collection[SelectionNode]]:
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            return (
                condition.name.value if condition else None,
                tuple(selection.directives or ()),
                selection.selection_set.selections,
            )
        assert isinstance(selection, FragmentSpreadNode)
        fragment = self.fragments.get(selection.name.value)
        if fragment is None:
            raise PlanningError(f"unknown fragment {selection.name.value}")
        return (
            fragment.type_condition.name.value,
            tuple(selection.directives or ()),
            fragment.selection_set.selections,
        )

    # -- freezing the plan ----------------------------------------------------------------

    def _node(self, cluster: list[_FetchGroup]) -> PlanNode:
        """One fetch for the cluster (one Flatten per merge path), then their children."""
        fetch = self._fetch(cluster)
        node = parallel([Flatten(g.path, fetch) if g.is_entity else fetch for g in cluster])
        children = [child for group in cluster for child in group.children]
        if not children:
            return node
        return sequence([node, self._children_node(children)])

    def _children_node(self, children: list[_FetchGroup]) -> PlanNode:
        """Sibling entity fetches run in parallel, after the siblings their @requires need;
        siblings of one level that go to the same subgraph share one fetch."""
        levels: list[list[_FetchGroup]] = []
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
            [parallel([self._node(cluster) for cluster in _clusters(level)]) for level in levels]
        )

    def _fetch(self, cluster: list[_FetchGroup]) -> Fetch:
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
            selections = group.selections
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
                add_plain_fields(requirements.setdefault(type_name, []), _copy_fields(fields))
        requires = tuple(
            TypeRequirement(type_name, tuple(_requirement(s) for s in fields))
            for type_name, fields in requirements.items()
        )
        return Fetch(
            service=group.graph,
            operation_text=print_ast(operation, max_indent_depth=0),
            requires=requires,
            variable_usages=tuple(used),
            path=group.path,
            operation_name=name,
        )


def _clusters(level: list[_FetchGroup]) -> list[list[_FetchGroup]]:
    """Group the entity fetches of one level that can share one request to their subgraph.

    Every representation of a request gets the selection of its type, so fetches only merge
    when that changes nothing: a type they share must have the same selection and the same
    requirements, and response keys they share must be selected identically (else the
    merged operation would be invalid).
    """
    clusters: list[tuple[list[_FetchGroup], dict[str, str], dict[str, str]]] = []
    for group in level:
        per_type = {
            type_name: _printed(selections) + " / " + _printed(group.requirements[type_name])
            for type_name, selections in group.entity_selections.items()
        }
        shapes = _response_shapes(
            [s for selections in group.entity_selections.values() for s in selections]
        )
        for cluster, cluster_types, cluster_shapes in clusters:
            if (
                cluster[0].graph == group.graph
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


def _printed(selections: list[Selection]) -> str:
    return print_ast(to_selection_set(selections), max_indent_depth=0)


def _response_shapes(selections: list[Selection]) -> dict[str, str]:
    """Printed field per response key, fragments looked through."""
    shapes: dict[str, str] = {}
    for selection in selections:
        if isinstance(selection, FieldSelection):
            printed = _printed([selection])
            previous = shapes.setdefault(selection.response_key, printed)
            if previous != printed:
                shapes[selection.response_key] = "<conflict>"
        else:
            for key, printed in _response_shapes(selection.selections).items():
                previous = shapes.setdefault(key, printed)
                if previous != printed:
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


def _copy_fields(fields: list[Selection]) -> list[FieldSelection]:
    copies = []
    for original in fields:
        if isinstance(original, FieldSelection):
            copy = FieldSelection(original.name)
            if original.selections is not None:
                copy.selections = [*_copy_fields(original.selections)]
            copies.append(copy)
    return copies


def build_query_plan(
    document: DocumentNode, operation_name: str | None, supergraph: Supergraph
) -> QueryPlan:
    """Plan an operation that was validated against ``supergraph.api_schema``."""
    return _Planner(document, operation_name, supergraph).plan()
