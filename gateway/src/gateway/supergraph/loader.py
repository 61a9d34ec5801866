"""Load a supergraph SDL composed by Apollo composition (join spec v0.3 or later)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from graphql import (
    ConstDirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    GraphQLError,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
    value_from_ast_untyped,
)

from gateway.supergraph.api_schema import build_api_schema
from gateway.supergraph.links import LinkedFeature, linked_features
from gateway.supergraph.model import EntityKey, FieldSource, Graph, Supergraph, TypeOwnership

MINIMUM_JOIN_VERSION = (0, 3)

# The features this gateway implements, by spec name, among those linked ``for:`` SECURITY
# or EXECUTION (which a gateway that does not implement them must refuse: link spec v1.0).
IMPLEMENTED_FEATURES = frozenset({"link", "join", "inaccessible"})
# Features that change how operations are planned or executed whatever their ``for:``.
# @context/@fromContext: arguments a subgraph reads from an ancestor's field.
UNIMPLEMENTED_FEATURES = {"context": "@context/@fromContext (arguments taken from an ancestor)"}


class SupergraphError(Exception):
    """The SDL is no supergraph this gateway can serve."""


def _args(directive: ConstDirectiveNode) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()}


def _applications(node: Any, name: str) -> list[dict[str, Any]]:
    return [_args(d) for d in node.directives or () if d.name.value == name]


def _join_feature(features: list[LinkedFeature]) -> LinkedFeature:
    for feature in features:
        if feature.is_apollo_spec and feature.spec == "join":
            if feature.version is None or feature.version < MINIMUM_JOIN_VERSION:
                raise SupergraphError(
                    f"join spec {feature.url} is too old: v0.3 or later is required"
                    " (compose with Federation 2)"
                )
            return feature
    raise SupergraphError("no @link to the join spec: this is not a Federation 2 supergraph")


def _refuse_unsupported(features: list[LinkedFeature]) -> None:
    for feature in features:
        known = feature.is_apollo_spec and feature.spec in IMPLEMENTED_FEATURES
        if feature.is_apollo_spec and feature.spec in UNIMPLEMENTED_FEATURES:
            raise SupergraphError(
                f"the supergraph links {feature.url}: "
                f"{UNIMPLEMENTED_FEATURES[feature.spec]}, which this gateway does not implement"
                " (it would plan such fields wrongly); compose without it"
            )
        if feature.purpose in ("SECURITY", "EXECUTION") and not known:
            raise SupergraphError(
                f"the supergraph links {feature.url} for {feature.purpose}, a feature this"
                " gateway does not implement: serving it could answer wrongly or bypass"
                " its rules, so the supergraph is refused"
            )


class _OwnershipReader:
    def __init__(self, join: LinkedFeature) -> None:
        self.graph = join.directive("graph")
        self.type = join.directive("type")
        self.field = join.directive("field")
        self.implements = join.directive("implements")
        self.union_member = join.directive("unionMember")
        self.graph_enum = f"{join.name}__Graph"
        self.graphs: dict[str, Graph] = {}  # by enum value
        self.types: dict[str, TypeOwnership] = {}
        self.members: dict[tuple[str, str], list[str]] = defaultdict(list)

    def graph_name(self, enum_value: Any) -> str:
        graph = self.graphs.get(str(enum_value))
        if graph is None:
            raise SupergraphError(f"unknown {self.graph_enum} value {enum_value!r}")
        return graph.name

    def read_graphs(self, document: DocumentNode) -> None:
        for definition in document.definitions:
            if isinstance(definition, EnumTypeDefinitionNode) and (
                definition.name.value == self.graph_enum
            ):
                for value in definition.values or ():
                    for args in _applications(value, self.graph):
                        self.graphs[value.name.value] = Graph(
                            enum_value=value.name.value, name=args["name"], url=args["url"]
                        )
        if not self.graphs:
            raise SupergraphError(f"the supergraph declares no subgraph ({self.graph_enum})")

    def read_type(self, definition: TypeDefinitionNode) -> None:
        joins = _applications(definition, self.type)
        if not joins:
            return
        name = definition.name.value
        graphs = list(dict.fromkeys(self.graph_name(j["graph"]) for j in joins))
        keys = tuple(
            EntityKey(self.graph_name(j["graph"]), j["key"], j.get("resolvable", True) is not False)
            for j in joins
            if j.get("key")
        )
        fields: dict[str, tuple[FieldSource, ...]] = {}
        for field in getattr(definition, "fields", None) or ():
            if _applications(field, self.field):
                # Possibly empty: a field only graph-less @join__field marks (e.g. one an
                # @interfaceObject adds to the implementations) is resolved by no subgraph
                # on this type.
                fields[field.name.value] = self._field_sources(field)
        interface_objects = tuple(
            self.graph_name(j["graph"]) for j in joins if j.get("isInterfaceObject")
        )
        self.types[name] = TypeOwnership(name, tuple(graphs), keys, fields, interface_objects)

        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            for implements in _applications(definition, self.implements):
                graph = self.graph_name(implements["graph"])
                self.members[(implements["interface"], graph)].append(name)
        if isinstance(definition, UnionTypeDefinitionNode):
            for member in _applications(definition, self.union_member):
                graph = self.graph_name(member["graph"])
                self.members[(name, graph)].append(member["member"])

    def _field_sources(self, field: FieldDefinitionNode) -> tuple[FieldSource, ...]:
        sources = []
        for args in _applications(field, self.field):
            if args.get("graph") is None:
                continue  # a graph-less @join__field only carries a type override
            sources.append(
                FieldSource(
                    graph=self.graph_name(args["graph"]),
                    requires=args.get("requires") or None,
                    provides=args.get("provides") or None,
                    external=bool(args.get("external")),
                    used_overridden=bool(args.get("usedOverridden")),
                    override=args.get("override") or None,
                    override_label=args.get("overrideLabel") or None,
                    type=args.get("type") or None,
                )
            )
        return tuple(sources)


def load_supergraph(sdl: str) -> Supergraph:
    try:
        document = parse(sdl)
    except GraphQLError as exc:
        raise SupergraphError(f"the supergraph SDL does not parse: {exc}") from exc
    features = linked_features(document)
    _refuse_unsupported(features)
    reader = _OwnershipReader(_join_feature(features))
    reader.read_graphs(document)
    for definition in document.definitions:
        if isinstance(definition, TypeDefinitionNode):
            reader.read_type(definition)
    try:
        schema = build_ast_schema(document)
        api_schema = build_api_schema(document, features)
    except (GraphQLError, TypeError) as exc:
        raise SupergraphError(f"the supergraph SDL is no valid schema: {exc}") from exc
    return Supergraph(
        sdl=sdl,
        schema=schema,
        api_schema=api_schema,
        graphs={g.name: g for g in reader.graphs.values()},
        types=reader.types,
        members={k: tuple(v) for k, v in reader.members.items()},
    )


def load_supergraph_file(path: Path) -> Supergraph:
    try:
        sdl = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SupergraphError(f"cannot read the supergraph at {path}: {exc}") from exc
    return load_supergraph(sdl)
