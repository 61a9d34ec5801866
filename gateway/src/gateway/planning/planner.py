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

from graphql import (
    ArgumentNode,
    BooleanValueNode,
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
    parse_type,
    print_ast,
)

from gateway.planning.ancestors import Level, Levels, is_keyless, plan_via_ancestor
from gateway.planning.conditions import conditional, group_conditions
from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.field_sets import copy_fields, field_set, requirement, top_fields
from gateway.planning.keys import assemble_key
from gateway.planning.plan import (
    LIST_STEP,
    Fetch,
    Flatten,
    OperationKind,
    PlanNode,
    QueryPlan,
    TypeRequirement,
    parallel,
    sequence,
)
from gateway.planning.provides import (
    Provided,
    merge_provided,
    parse_provides,
    provided_on,
    provides_all,
)
from gateway.planning.requires import conflicts, needs_own_fetch, plan_requires
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


def _conflict_free(
    level_out: list[Selection], fields: list[FieldSelection]
) -> list[FieldSelection]:
    """Key fields to add to a selection, aliased where the client already uses their name
    as the response key of something else (``id: name``)."""
    taken = _response_keys(level_out)
    out = []
    for f in fields:
        others = taken.get(f.name, [])
        if any(o.alias is not None or o.name != f.name or o.directives for o in others):
            f = FieldSelection(f.name, f"_fed_{f.name}", f.arguments, (), f.selections)
        out.append(f)
    return out


def _response_keys(selections: list[Selection]) -> dict[str, list[FieldSelection]]:
    keys: dict[str, list[FieldSelection]] = {}
    for s in selections:
        if isinstance(s, FieldSelection):
            keys.setdefault(s.response_key, []).append(s)
        else:
            for k, v in _response_keys(s.selections).items():
                keys.setdefault(k, []).extend(v)
    return keys


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
        self,
        document: DocumentNode,
        operation_name: str | None,
        supergraph: Supergraph,
        labels: frozenset[str] = frozenset(),
    ) -> None:
        self.labels = labels
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
        # While @requires inputs are planned: every entity fetch they use (see requires.py).
        self.touched: list[FetchGroup] | None = None
        self.roots: list[FetchGroup] = []
        # (entity type, subgraph) whose key is being gathered from several subgraphs (keys.py)
        self.assembling: set[tuple[str, str]] = set()
        self.levels = Levels("Query")

    # -- the walk -------------------------------------------------------------------------

    def plan(self) -> QueryPlan:
        operation_type = self.operation.operation
        # A subscription's plan: its one root field's fetch first (sent to the owning
        # subgraph as a subscription), then the entity fetches that every event needs.
        kind: OperationKind = {
            OperationType.QUERY: "query",
            OperationType.MUTATION: "mutation",
            OperationType.SUBSCRIPTION: "subscription",
        }[operation_type]  # type: ignore[assignment]
        root_type = self.schema.get_root_type(operation_type)
        if root_type is None:
            raise PlanningError(f"the supergraph has no {kind} type")
        roots = self.roots
        self.levels = Levels(root_type.name)
        self._plan_root(root_type.name, self.operation.selection_set.selections, (), roots)
        nodes = [self._node([group]) for group in roots]
        if not nodes:
            return QueryPlan(kind, None)
        return QueryPlan(kind, parallel(nodes) if kind == "query" else sequence(nodes))

    def _plan_root(
        self,
        root_type: str,
        selections: Collection[SelectionNode],
        conditions: Conditions,
        roots: list[FetchGroup],
    ) -> None:
        for selection in selections:
            if _excluded(selection):
                continue  # @skip(if: true) or @include(if: false): nothing to fetch
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue  # __typename, __schema, __type: the gateway answers them
                graphs = self.graphs(root_type, name)
                if not graphs:
                    raise PlanningError(f"no subgraph resolves {root_type}.{name}")
                if len(graphs) > 1:
                    graphs = self._cheapest_first(root_type, selection, graphs, roots)
                group = self._root_group(roots, graphs)
                target = conditional_block(group.selections, conditions)
                target.append(self.plan_field(group, root_type, selection, ()))
            else:
                _, directives, nested = self._fragment_parts(selection)
                more = (directives,) if directives else ()
                self._plan_root(root_type, nested, conditions + more, roots)

    def _cheapest_first(
        self, root_type: str, node: FieldNode, graphs: list[str], roots: list[FetchGroup]
    ) -> list[str]:
        """A root field several subgraphs resolve (@shareable): the subgraphs by the number
        of fetches the field costs from each (one fewer where a root fetch to that subgraph
        exists already), ties in supergraph order."""

        reusable = roots[-1:] if self.operation.operation == OperationType.MUTATION else roots

        def fetches(graph: str) -> float:
            trial = FetchGroup(graph=graph, path=(), is_entity=False)
            # Root fetches the trial adds (re-queried @shareable root fields) go aside.
            self.roots = [trial]
            try:
                self.plan_field(trial, root_type, node, ())
            except PlanningError:
                return float("inf")
            finally:
                trial_roots, self.roots = self.roots, roots
            count, stack = 0, list(trial_roots)
            while stack:
                group = stack.pop()
                count += 1
                stack.extend(group.children)
            return count - sum(1 for t in trial_roots if any(g.graph == t.graph for g in reusable))

        costs = {graph: fetches(graph) for graph in graphs}
        return sorted(graphs, key=lambda g: costs[g])

    def may_requery_root(self) -> bool:
        """Whether a root field may be sent to one more subgraph: queries only (a mutation
        runs once; a subscription has one source)."""
        return self.operation.operation == OperationType.QUERY

    def root_group(self, graph: str) -> FetchGroup:
        """The root fetch of the operation to ``graph`` (a new one if there is none)."""
        return self._root_group(self.roots, [graph])

    def _root_group(self, roots: list[FetchGroup], graphs: list[str]) -> FetchGroup:
        # ``graphs`` comes cheapest first (see _cheapest_first).
        if self.operation.operation == OperationType.MUTATION:
            # Mutations run in document order: only the latest group may take the field.
            reusable = roots[-1:] if roots and roots[-1].graph == graphs[0] else []
        else:
            reusable = [g for g in roots if g.graph == graphs[0]][:1]
        if reusable:
            return reusable[0]
        group = FetchGroup(graph=graphs[0], path=(), is_entity=False)
        roots.append(group)
        return group

    def graphs(self, type_name: str, field_name: str) -> list[str]:
        return self.supergraph.resolving_graphs(type_name, field_name, self.labels)

    def plan_field(
        self,
        group: FetchGroup,
        parent_type: str,
        node: FieldNode,
        path: tuple[str, ...],
        provided: Provided | None = None,
    ) -> FieldSelection:
        """The field as ``group`` selects it, its sub-selections planned from there.

        ``provided``: what an enclosing ``@provides`` lets ``group`` resolve below.
        """
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
        own = self.supergraph.provides(parent_type, name, group.graph)
        if own:
            provided = merge_provided(provided, parse_provides(own))
        sub_path = (*path, selection.response_key, *([LIST_STEP] * depth))
        nested = node.selection_set.selections
        out: list[Selection] = []
        if is_abstract_type(named) and self.supergraph.is_interface_object(named.name, group.graph):
            # The subgraph sees the interface as one object type: plan on it as such; what
            # needs the real type goes to the subgraph owning the interface.
            out.append(typename_field())
            with self.levels.entered(
                Level(group, named.name, sub_path, out, selection, parent_type)
            ):
                self._plan_selections(
                    group, named.name, nested, sub_path, out, out, (), provided, abstract=True
                )
        elif is_abstract_type(named):
            # __typename tells the executor (and the response shaping) the runtime type.
            out.append(typename_field())
            for object_type in self.supergraph.possible_types_in(named.name, group.graph):
                per_type: list[Selection] = []
                level = Level(
                    group, object_type, sub_path, per_type, selection, parent_type, object_type
                )
                with self.levels.entered(level):
                    self._plan_selections(
                        group, object_type, nested, sub_path, per_type, per_type, (), provided
                    )
                if per_type:
                    out.append(FragmentSelection(object_type, (), per_type))
        else:
            with self.levels.entered(
                Level(group, named.name, sub_path, out, selection, parent_type)
            ):
                self._plan_selections(group, named.name, nested, sub_path, out, out, (), provided)
            if not out:
                out.append(typename_field())
        selection.selections = out
        return selection

    def _plan_selections(
        self,
        group: FetchGroup,
        type_name: str,
        selections: Collection[SelectionNode],
        path: tuple[str, ...],
        out: list[Selection],
        level_out: list[Selection],
        conditions: Conditions,
        provided: Provided | None = None,
        *,
        abstract: bool = False,
    ) -> None:
        """Plan ``selections`` on object type ``type_name`` into ``out`` (within ``group``).

        ``level_out`` is the selection of the enclosing field itself, outside any fragment:
        where keys go, so that they are fetched whatever the fragments' conditions.
        ``abstract``: ``type_name`` is an interface that ``group``'s subgraph knows as an
        @interfaceObject, whose objects' real types only the interface's owner knows.
        """
        if provided is not None:
            provided = provided_on(provided, type_name, self._applies)
        for selection in selections:
            if _excluded(selection):
                continue  # @skip(if: true) or @include(if: false): nothing to fetch
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename" and not abstract:
                    out.append(
                        FieldSelection(
                            name,
                            selection.alias.value if selection.alias else None,
                            directives=tuple(selection.directives or ()),
                        )
                    )
                    continue
                graphs = self.graphs(type_name, name) if name != "__typename" else []
                local = group.graph in graphs and not needs_own_fetch(
                    self.supergraph, group, type_name, name
                )
                if local or (
                    provided is not None
                    and name in provided
                    and self._covered(group.graph, type_name, selection, provided[name])
                ):
                    sub = provided.get(name) if provided is not None else None
                    out.append(self.plan_field(group, type_name, selection, path, sub))
                    continue
                if abstract:
                    # Another interface-object subgraph's field goes there; the interface's
                    # owner answers the rest (its fields, the concrete __typename).
                    graphs = [g for g in graphs if g != group.graph] or self._interface_owners(
                        type_name
                    )
                elif not graphs:
                    self._via_interface_object(
                        group, type_name, selection, path, level_out, conditions
                    )
                    continue
                elif is_keyless(self, type_name, graphs) and plan_via_ancestor(
                    self, type_name, selection, path, graphs, conditions
                ):
                    continue
                child = self.entity_child(
                    group, type_name, name, graphs, path, level_out, provided=provided
                )
                requires = self.supergraph.requires(type_name, name, child.graph)
                avoid: list[FetchGroup] = []
                while requires and conflicts(child, type_name, requires):
                    # The same field required with other arguments: a fetch of its own.
                    avoid.append(child)
                    child = self.entity_child(
                        group, type_name, name, [child.graph], path, level_out, avoid=avoid
                    )
                if requires:
                    plan_requires(self, group, child, type_name, requires, path, level_out)
                entity = child.entity_selections.setdefault(type_name, [])
                target = conditional_block(entity, conditions)
                if name == "__typename":
                    target.append(
                        FieldSelection(
                            name,
                            selection.alias.value if selection.alias else None,
                            directives=tuple(selection.directives or ()),
                        )
                    )
                    add_plain_fields(entity, [typename_field()])
                    continue
                target.append(self.plan_field(child, type_name, selection, path))
                if abstract:
                    add_plain_fields(entity, [typename_field()])
                continue
            type_condition, directives, nested = self._fragment_parts(selection)
            if abstract and type_condition not in (None, type_name):
                self._abstract_fragment(group, type_name, selection, path, level_out, conditions)
                continue
            if type_condition is not None and not self._applies(type_condition, type_name):
                continue
            if directives:
                block = FragmentSelection(None, directives)
                self._plan_selections(
                    group, type_name, nested, path, block.selections, level_out,
                    (*conditions, directives), provided, abstract=abstract,
                )  # fmt: skip
                if block.selections:
                    out.append(block)
            else:
                self._plan_selections(
                    group, type_name, nested, path, out, level_out, conditions, provided,
                    abstract=abstract,
                )  # fmt: skip

    def _covered(self, graph: str, parent_type: str, node: FieldNode, provided: Provided) -> bool:
        """Whether ``graph`` can resolve the field's whole selection where an @provides
        lets it: provided fields, or fields it resolves anyway. Otherwise the field is
        fetched from its owner instead (through the parent entity's key)."""
        if node.selection_set is None:
            return True
        named, _ = _unwrap(self._field_definition(parent_type, node.name.value).type)
        if is_abstract_type(named):
            return True  # planned per possible type; joins handle the rest
        provided = provided_on(provided, named.name, self._applies)
        stack: list[SelectionNode] = list(node.selection_set.selections)
        while stack:
            selection = stack.pop()
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    continue
                if name in provided:
                    if not self._covered(graph, named.name, selection, provided[name]):
                        return False
                elif graph not in self.graphs(named.name, name):
                    return False
            else:
                stack.extend(self._fragment_parts(selection)[2])
        return True

    def _interface_owners(self, interface: str) -> list[str]:
        """Subgraphs that resolve an entity interface by key (not as @interfaceObject)."""
        ownership = self.supergraph.types.get(interface)
        if ownership is None:
            return []
        return [
            k.graph
            for k in ownership.keys
            if k.resolvable and k.graph not in ownership.interface_object_graphs
        ]

    def _abstract_fragment(
        self,
        group: FetchGroup,
        interface: str,
        selection: SelectionNode,
        path: tuple[str, ...],
        level_out: list[Selection],
        conditions: Conditions,
    ) -> None:
        """A fragment on an implementation of an @interfaceObject's interface: the owner of
        the interface knows the real type, so it evaluates the fragment."""
        owners = self._interface_owners(interface)
        child = self.entity_child(group, interface, "__typename", owners, path, level_out)
        entity = child.entity_selections.setdefault(interface, [])
        add_plain_fields(entity, [typename_field()])
        target = conditional_block(entity, conditions)
        type_condition, directives, nested = self._fragment_parts(selection)
        assert type_condition is not None
        for object_type in self.supergraph.possible_types_in(interface, child.graph):
            if not self._applies(type_condition, object_type):
                continue
            per_type: list[Selection] = []
            self._plan_selections(child, object_type, nested, path, per_type, per_type, ())
            if per_type:
                block = FragmentSelection(object_type, directives, per_type)
                target.append(block)

    def _via_interface_object(
        self,
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
        object_type = self.schema.get_type(type_name)
        for interface in getattr(object_type, "interfaces", ()):
            ownership = self.supergraph.types.get(interface.name)
            if ownership is None:
                continue
            graphs = [
                g
                for g in self.graphs(interface.name, name)
                if g in ownership.interface_object_graphs
            ]
            if not graphs:
                continue
            child = self.entity_child(
                group, interface.name, name, graphs, path, level_out, object_type=type_name
            )
            requires = self.supergraph.requires(interface.name, name, child.graph)
            avoid: list[FetchGroup] = []
            while requires and conflicts(child, type_name, requires):
                avoid.append(child)
                child = self.entity_child(
                    group, interface.name, name, [child.graph], path, level_out,
                    object_type=type_name, avoid=avoid,
                )  # fmt: skip
            child.typename_as[type_name] = interface.name
            if requires:
                # Written against the interface, planned on the objects' own type.
                plan_requires(self, group, child, type_name, requires, path, level_out)
            entity = child.entity_selections.setdefault(interface.name, [])
            target = conditional_block(entity, conditions)
            planned = self.plan_field(child, interface.name, selection, path)
            if all(_printed([planned]) != _printed([s]) for s in target):
                target.append(planned)  # each implementation asks it: once is enough
            return
        raise PlanningError(f"no subgraph resolves {type_name}.{name}")

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
        provided: Provided | None = None,
    ) -> FetchGroup:
        """The entity fetch under ``group`` that will resolve the field, keys wired in.

        ``type_name`` is the type the target subgraph resolves (an interface, for an
        @interfaceObject), ``object_type`` the type of the objects at ``path`` if it differs.
        When no key of a target subgraph is available in ``group``'s subgraph, one hop
        through a subgraph that has such a key's fields is taken.
        """
        source_type = object_type or type_name
        candidates: list[tuple[str, EntityKey]] = []
        for graph in graphs:
            key = self.usable_key(type_name, graph, group.graph, source_type, provided)
            if key is not None:
                candidates.append((graph, key))
        if not candidates:
            hop = self._hop(group, type_name, graphs, path, level_out)
            if hop is not None:
                if self.touched is not None:
                    self.touched.append(hop)
                return hop
            if object_type is None:
                assembled = assemble_key(self, group, type_name, graphs, path, level_out)
                if assembled is not None:
                    return assembled
            raise PlanningError(
                f"cannot plan {type_name}.{field_name}: it is resolved by "
                f"{', '.join(graphs) or 'no subgraph'}, which {group.graph} cannot reach "
                "through an entity key"
            )
        # Prefer a subgraph that this position already fetches from: one request fewer.
        graph, key = next(
            ((g, k) for g, k in candidates if group.child(g, path, avoid) is not None),
            candidates[0],
        )
        child = group.child(graph, path, avoid)
        if child is None:
            child = group.new_child(graph, path)
        if self.touched is not None:
            self.touched.append(child)
        key_fields = _conflict_free(level_out, field_set(key.fields))
        add_plain_fields(level_out, [typename_field(), *key_fields])
        wanted = child.requirements.setdefault(source_type, [])
        add_plain_fields(wanted, [typename_field(), *copy_fields(list(key_fields))])
        return child

    def _hop(
        self,
        group: FetchGroup,
        type_name: str,
        graphs: list[str],
        path: tuple[str, ...],
        level_out: list[Selection],
    ) -> FetchGroup | None:
        for target in graphs:
            for key in self.supergraph.resolvable_keys(type_name, target):
                key_fields = [f.name.value for f in top_fields(key.fields)]
                for middle in self.supergraph.graphs:
                    if (
                        middle in (group.graph, target)
                        or self.usable_key(type_name, middle, group.graph, type_name) is None
                    ):
                        continue
                    if not all(middle in self.graphs(type_name, f) for f in key_fields):
                        continue
                    hop = self.entity_child(
                        group, type_name, key_fields[0], [middle], path, level_out
                    )
                    add_plain_fields(
                        hop.entity_selections.setdefault(type_name, []), field_set(key.fields)
                    )
                    # The hop's results merge into the same objects: plan the target under it.
                    return self.entity_child(hop, type_name, key_fields[0], [target], path, [])
        return None

    def usable_key(
        self,
        type_name: str,
        target: str,
        source: str,
        source_type: str | None = None,
        provided: Provided | None = None,
    ) -> EntityKey | None:
        """A key by which ``target`` resolves the type and whose fields ``source`` has
        (or, at this path, is given by an @provides: ``provided``)."""
        for key in self.supergraph.resolvable_keys(type_name, target):
            if all(
                source in self.graphs(source_type or type_name, f.name.value)
                or (provided is not None and provides_all(provided, f))
                for f in top_fields(key.fields)
            ):
                return key
        return None

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

    def _implementations_of_interface_object(self, type_name: str) -> tuple[str, ...]:
        """The object types of an interface that some subgraph knows as an @interfaceObject
        (none for any other type)."""
        ownership = self.supergraph.types.get(type_name)
        if ownership is None or not ownership.interface_object_graphs:
            return ()
        return tuple(t for t in self._possible_types(type_name) if t != type_name)

    def _possible_types(self, type_condition: str) -> tuple[str, ...]:
        condition = self.schema.get_type(type_condition)
        if condition is None or is_object_type(condition):
            return (type_condition,)
        possible = self.schema.get_possible_types(condition)  # type: ignore[arg-type]
        return tuple(t.name for t in possible)

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

    def _node(self, cluster: list[FetchGroup]) -> PlanNode:
        """One fetch for the cluster (one Flatten per merge path), then their children."""
        fetch = self._fetch(cluster)
        node = parallel([Flatten(g.path, fetch) if g.is_entity else fetch for g in cluster])
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
            [parallel([self._node(cluster) for cluster in _clusters(level)]) for level in levels]
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
            type_name: _printed(selections)
            + " / "
            + " ".join(
                f"{t}: {_printed(fields)}"
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


def _excluded(selection: SelectionNode) -> bool:
    """Excluded whatever the variables: a literal ``@skip(if: true)``/``@include(if: false)``."""
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        for argument in directive.arguments or ():
            value = argument.value
            if (
                argument.name.value == "if"
                and isinstance(value, BooleanValueNode)
                and value.value is (name == "skip")
            ):
                return True
    return False


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


def build_query_plan(
    document: DocumentNode,
    operation_name: str | None,
    supergraph: Supergraph,
    labels: frozenset[str] = frozenset(),
) -> QueryPlan:
    """Plan an operation that was validated against ``supergraph.api_schema``, with the
    progressive-override ``labels`` that are on."""
    return _Planner(document, operation_name, supergraph, labels).plan()
