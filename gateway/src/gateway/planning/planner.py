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

This module is the walk; each idea woven into it has a module of its own:
fetch_groups (fetches while they are built, and their hops), keys (which key an entity fetch
uses, one hop through a middle subgraph, keys assembled from several subgraphs), requires
(``@requires`` inputs), provides (``@provides``), ancestors (fields of keyless value types,
through the nearest ancestor another subgraph can be asked about), interface_objects
(``@interfaceObject``), conditions (``@skip``/``@include`` on variables) and freeze (fetch
groups to the plain-data plan).
"""

from __future__ import annotations

from collections.abc import Collection

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    get_operation_ast,
    is_abstract_type,
)

from gateway.planning.ancestors import Level, Levels, is_keyless, plan_via_ancestor
from gateway.planning.errors import PlanningError
from gateway.planning.fetch_groups import FetchGroup
from gateway.planning.freeze import Freezer
from gateway.planning.interface_objects import (
    abstract_fragment,
    interface_owners,
    via_interface_object,
)
from gateway.planning.keys import entity_child, usable_key
from gateway.planning.plan import LIST_STEP, OperationKind, QueryPlan, parallel, sequence
from gateway.planning.provides import Provided, merge_provided, parse_provides, provided_on
from gateway.planning.requires import conflicts, needs_own_fetch, plan_requires
from gateway.planning.schema_types import applies, field_definition, named_type_name, unwrap
from gateway.planning.selections import (
    FieldSelection,
    FragmentSelection,
    Selection,
    add_plain_fields,
    conditional_block,
    typename_field,
)
from gateway.supergraph.model import EntityKey, Supergraph

Conditions = tuple[tuple[DirectiveNode, ...], ...]


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
        freezer = Freezer(self.operation, self.variable_definitions, self.supergraph)
        nodes = [freezer.node([group]) for group in roots]
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
                _, directives, nested = self.fragment_parts(selection)
                more = (directives,) if directives else ()
                self._plan_root(root_type, nested, conditions + more, roots)

    def _cheapest_first(
        self, root_type: str, node: FieldNode, graphs: list[str], roots: list[FetchGroup]
    ) -> list[str]:
        """A root field several subgraphs resolve (@shareable): the subgraphs by the number
        of fetches the field costs from each (one fewer where a root fetch to that subgraph
        exists already, or will for a root field only it resolves), ties in supergraph order."""
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
            return count - sum(
                1
                for t in trial_roots
                if any(g.graph == t.graph for g in reusable) or t.graph in later
            )

        # A query's root fields that only one subgraph resolves will be fetched from it
        # whatever comes first in the document: a @shareable field joins that fetch as well.
        later = (
            set()
            if self.operation.operation == OperationType.MUTATION
            else {
                owners[0]
                for s in self.operation.selection_set.selections
                if isinstance(s, FieldNode)
                and not s.name.value.startswith("__")
                and len(owners := self.graphs(root_type, s.name.value)) == 1
            }
        )

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
        named, depth = unwrap(field_definition(self.schema, parent_type, name).type)
        # The type the field has in this subgraph (a @shareable field may be narrower there):
        # fragments are planned for the object types it can return there, nothing else.
        here = self._named_type_in(group.graph, parent_type, name, named)
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
                self.plan_selections(
                    group, named.name, nested, sub_path, out, out, (), provided, abstract=True
                )
        elif is_abstract_type(here):
            # __typename tells the executor (and the response shaping) the runtime type.
            out.append(typename_field())
            for object_type in self.supergraph.possible_types_in(here.name, group.graph):
                per_type: list[Selection] = []
                level = Level(
                    group, object_type, sub_path, per_type, selection, parent_type, object_type
                )
                with self.levels.entered(level):
                    self.plan_selections(
                        group, object_type, nested, sub_path, per_type, per_type, (), provided
                    )
                if per_type:
                    out.append(FragmentSelection(object_type, (), per_type))
        else:
            fragment = None
            if is_abstract_type(named):
                # Abstract in the supergraph, one object type here: the shaping still needs
                # the runtime type.
                out.append(typename_field())
                fragment = here.name
            with self.levels.entered(
                Level(group, here.name, sub_path, out, selection, parent_type, fragment)
            ):
                self.plan_selections(group, here.name, nested, sub_path, out, out, (), provided)
            if not out:
                out.append(typename_field())
        selection.selections = out
        return selection

    def _named_type_in(
        self, graph: str, parent_type: str, field_name: str, named: GraphQLNamedType
    ) -> GraphQLNamedType:
        """The named type of the field in ``graph`` (``@join__field(type:)``), else ``named``."""
        recorded = self.supergraph.field_type_in(parent_type, field_name, graph)
        if recorded is None:
            return named
        here = self.schema.get_type(named_type_name(recorded))
        return here if here is not None else named

    def plan_selections(
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
            provided = provided_on(provided, type_name, self.applies)
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
                    graphs = [g for g in graphs if g != group.graph] or interface_owners(
                        self, type_name
                    )
                elif not graphs:
                    via_interface_object(
                        self, group, type_name, selection, path, level_out, conditions
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
            type_condition, directives, nested = self.fragment_parts(selection)
            if abstract and type_condition not in (None, type_name):
                abstract_fragment(self, group, type_name, selection, path, level_out, conditions)
                continue
            if type_condition is not None and not self.applies(type_condition, type_name):
                continue
            if directives:
                block = FragmentSelection(None, directives)
                self.plan_selections(
                    group, type_name, nested, path, block.selections, level_out,
                    (*conditions, directives), provided, abstract=abstract,
                )  # fmt: skip
                if block.selections:
                    out.append(block)
            else:
                self.plan_selections(
                    group, type_name, nested, path, out, level_out, conditions, provided,
                    abstract=abstract,
                )  # fmt: skip

    def _covered(self, graph: str, parent_type: str, node: FieldNode, provided: Provided) -> bool:
        """Whether ``graph`` can resolve the field's whole selection where an @provides
        lets it: provided fields, or fields it resolves anyway. Otherwise the field is
        fetched from its owner instead (through the parent entity's key)."""
        if node.selection_set is None:
            return True
        named, _ = unwrap(field_definition(self.schema, parent_type, node.name.value).type)
        if is_abstract_type(named):
            return True  # planned per possible type; joins handle the rest
        provided = provided_on(provided, named.name, self.applies)
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
                stack.extend(self.fragment_parts(selection)[2])
        return True

    def applies(self, type_condition: str, object_type: str) -> bool:
        return applies(self.schema, type_condition, object_type)

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
        """The entity fetch under ``group`` that will resolve the field (keys.py)."""
        return entity_child(
            self, group, type_name, field_name, graphs, path, level_out,
            object_type=object_type, avoid=avoid, provided=provided,
        )  # fmt: skip

    def usable_key(
        self,
        type_name: str,
        target: str,
        source: str,
        source_type: str | None = None,
        provided: Provided | None = None,
    ) -> EntityKey | None:
        return usable_key(self, type_name, target, source, source_type, provided)

    # -- schema helpers -------------------------------------------------------------------

    def fragment_parts(
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


def build_query_plan(
    document: DocumentNode,
    operation_name: str | None,
    supergraph: Supergraph,
    labels: frozenset[str] = frozenset(),
) -> QueryPlan:
    """Plan an operation that was validated against ``supergraph.api_schema``, with the
    progressive-override ``labels`` that are on."""
    return _Planner(document, operation_name, supergraph, labels).plan()
