"""The ownership model of a supergraph: which subgraph resolves what.

Read from the join spec directives that Apollo composition writes (join v0.3+):
``join__Graph`` values name the subgraphs and their URLs, ``@join__type`` says which subgraphs
know a type and by which keys they can resolve it, ``@join__field`` which subgraphs resolve a
field, ``@join__implements`` / ``@join__unionMember`` which object types each subgraph can
return for an abstract type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from graphql import GraphQLSchema


@dataclass(frozen=True, slots=True)
class Graph:
    """A subgraph: ``enum_value`` is its ``join__Graph`` value, ``name`` its own name."""

    enum_value: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One ``@join__type(graph, key)``: ``graph`` can resolve the type from these fields."""

    graph: str
    fields: str
    resolvable: bool = True


@dataclass(frozen=True, slots=True)
class FieldSource:
    """One ``@join__field``: a subgraph that declares the field, and how."""

    graph: str
    requires: str | None = None
    provides: str | None = None
    external: bool = False
    used_overridden: bool = False
    # Progressive @override: the subgraph that took the field over resolves it while the
    # label is on (``override`` set), the one it came from while it is off.
    override: str | None = None
    override_label: str | None = None
    # The field's type in this subgraph when it differs from the supergraph's
    # (``@join__field(type:)``: a @shareable field that is narrower there, e.g. ``Book``
    # where the supergraph says ``Media``).
    type: str | None = None

    @property
    def resolves(self) -> bool:
        # An external field is only declared (for keys and @requires), and an overridden one
        # still used by its old subgraph is no longer served from there.
        return not self.external and not self.used_overridden

    def resolves_with(self, labels: frozenset[str]) -> bool:
        if not self.resolves:
            return False
        if self.override_label is None:
            return True
        on = self.override_label in labels
        return on if self.override is not None else not on


@dataclass(frozen=True, slots=True)
class TypeOwnership:
    name: str
    graphs: tuple[str, ...]
    keys: tuple[EntityKey, ...] = ()
    fields: Mapping[str, tuple[FieldSource, ...]] = field(default_factory=dict)
    # Subgraphs where this interface is an object type marked @interfaceObject.
    interface_object_graphs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Supergraph:
    """A loaded supergraph: its SDL, both schemas and the ownership model.

    ``schema`` is the whole supergraph (every type and field, ``@inaccessible`` ones
    included: the planner may need them for keys and ``@requires``); ``api_schema`` is what
    clients see and what operations are validated and shaped against.
    """

    sdl: str
    schema: GraphQLSchema
    api_schema: GraphQLSchema
    graphs: Mapping[str, Graph]
    types: Mapping[str, TypeOwnership]
    # (abstract type, graph) -> object types that graph may return for it
    members: Mapping[tuple[str, str], tuple[str, ...]]

    def graph_names(self) -> list[str]:
        return list(self.graphs)

    def field_sources(self, type_name: str, field_name: str) -> tuple[FieldSource, ...]:
        ownership = self.types.get(type_name)
        if ownership is None:
            return ()
        explicit = ownership.fields.get(field_name)
        if explicit is not None:
            return explicit
        # No @join__field: every subgraph that has the type resolves the field (join spec).
        return tuple(FieldSource(graph) for graph in ownership.graphs)

    def resolving_graphs(
        self, type_name: str, field_name: str, labels: frozenset[str] = frozenset()
    ) -> list[str]:
        """Subgraphs that can resolve the field, in the supergraph's graph order, with the
        progressive-override ``labels`` that are on."""
        resolving = {
            s.graph for s in self.field_sources(type_name, field_name) if s.resolves_with(labels)
        }
        return [name for name in self.graphs if name in resolving]

    def provides(self, type_name: str, field_name: str, graph: str) -> str | None:
        for source in self.field_sources(type_name, field_name):
            if source.graph == graph:
                return source.provides
        return None

    def field_type_in(self, type_name: str, field_name: str, graph: str) -> str | None:
        """The field's type in ``graph`` as the supergraph records it (``[Book!]``), or None
        when it is not recorded (then it is the supergraph's)."""
        for source in self.field_sources(type_name, field_name):
            if source.graph == graph:
                return source.type
        return None

    def is_interface_object(self, type_name: str, graph: str) -> bool:
        ownership = self.types.get(type_name)
        return ownership is not None and graph in ownership.interface_object_graphs

    @property
    def override_labels(self) -> frozenset[str]:
        return frozenset(
            s.override_label
            for ownership in self.types.values()
            for sources in ownership.fields.values()
            for s in sources
            if s.override_label
        )

    def requires(self, type_name: str, field_name: str, graph: str) -> str | None:
        for source in self.field_sources(type_name, field_name):
            if source.graph == graph:
                return source.requires
        return None

    def resolvable_keys(self, type_name: str, graph: str) -> list[EntityKey]:
        ownership = self.types.get(type_name)
        if ownership is None:
            return []
        return [k for k in ownership.keys if k.graph == graph and k.resolvable]

    def has_type(self, graph: str, type_name: str) -> bool:
        ownership = self.types.get(type_name)
        return ownership is not None and graph in ownership.graphs

    def possible_types_in(self, abstract_type: str, graph: str) -> list[str]:
        """Object types that ``graph`` can return where ``abstract_type`` is expected."""
        recorded = self.members.get((abstract_type, graph))
        if recorded is not None:
            return list(recorded)
        # Older compositions do not record membership: fall back to every possible type
        # that the graph knows at all.
        named = self.schema.get_type(abstract_type)
        if named is None:
            return []
        possible = self.schema.get_possible_types(named)  # type: ignore[arg-type]
        return [t.name for t in possible if self.has_type(graph, t.name)]

    def with_subgraph_urls(self, overrides: Mapping[str, str]) -> Supergraph:
        """A copy whose subgraph URLs are replaced; names match case-insensitively.

        Raises ``KeyError`` for a name that is no subgraph of this supergraph.
        """
        by_lower = {name.lower(): name for name in self.graphs}
        by_lower.update({g.enum_value.lower(): g.name for g in self.graphs.values()})
        graphs = dict(self.graphs)
        for given, url in overrides.items():
            name = by_lower.get(given.lower())
            if name is None:
                raise KeyError(given)
            graphs[name] = replace(graphs[name], url=url)
        return replace(self, graphs=graphs)
