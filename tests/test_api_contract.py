"""docs/API.md stays true: every type and field it lists as served (all but the reserved
section) exists in the composed supergraph, with the same name."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLObjectType,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    build_schema,
    parse,
    print_ast,
)

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "API.md").read_text()
SERVED = API.split("## Reserved names")[0]


def _supergraph_fields() -> dict[str, set[str]]:
    schema = build_schema((ROOT / "contracts" / "supergraph.graphql").read_text())
    return {
        name: set(type_.fields)
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType)
    }


def _documented() -> list[tuple[str, str]]:
    pairs = []
    for block in re.findall(r"```graphql\n(.*?)```", SERVED, re.S):
        for definition in parse(block).definitions:
            if isinstance(definition, ObjectTypeDefinitionNode):
                for field in definition.fields or ():
                    pairs.append((definition.name.value, field.name.value))
    return pairs


SUPERGRAPH = _supergraph_fields()


def test_the_document_lists_the_graph() -> None:
    assert len(_documented()) > 60


@pytest.mark.parametrize(("type_name", "field"), _documented())
def test_every_documented_field_is_served(type_name: str, field: str) -> None:
    assert type_name in SUPERGRAPH, f"type {type_name} of docs/API.md is not in the supergraph"
    assert field in SUPERGRAPH[type_name], f"{type_name}.{field} of docs/API.md is not served"


# -- partial answers: where one subgraph's answer stops, the field is nullable ---------------


def _directive_args(node: Any, name: str) -> list[dict[str, str]]:
    found = []
    for directive in node.directives or ():
        if directive.name.value == name:
            found.append({a.name.value: print_ast(a.value) for a in directive.arguments})
    return found


def _supergraph_objects() -> list[ObjectTypeDefinitionNode]:
    document = parse((ROOT / "contracts" / "supergraph.graphql").read_text())
    return [d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode)]


def _origins() -> dict[str, str]:
    """Each entity type's own subgraph: the one that resolves most of its fields."""
    origins = {}
    for definition in _supergraph_objects():
        if not any("key" in args for args in _directive_args(definition, "join__type")):
            continue
        counts: Counter[str] = Counter()
        for field in definition.fields or ():
            for args in _directive_args(field, "join__field"):
                counts[args.get("graph", "")] += 1
        if counts:
            origins[definition.name.value] = counts.most_common(1)[0][0]
    return origins


def _named(type_node: Any) -> str:
    while not isinstance(type_node, NamedTypeNode):
        type_node = type_node.type
    return str(type_node.name.value)


def _must_be_nullable() -> list[tuple[str, str, Any]]:
    origins = _origins()
    found = []
    for definition in _supergraph_objects():
        type_name = definition.name.value
        for field in definition.fields or ():
            if field.name.value.startswith("_"):
                continue
            graphs = {a.get("graph") for a in _directive_args(field, "join__field")}
            if not graphs:  # a single-subgraph type: its one graph
                graphs = {a.get("graph") for a in _directive_args(definition, "join__type")}
            crosses = (
                type_name == "Query"
                # a subgraph adding a field to another's entity
                or (type_name in origins and graphs and origins[type_name] not in graphs)
                # a field pointing to another subgraph's entity
                or (
                    _named(field.type) in origins
                    and graphs
                    and origins[_named(field.type)] not in graphs
                )
            )
            if crosses:
                found.append((type_name, field.name.value, field.type))
    return found


def test_fields_where_one_subgraph_stops_are_nullable() -> None:
    # docs/API.md, "Partial answers": with customers down, `pipelines` still answers beside
    # an error for `customers`, and a deal answers with `customer: null`.
    fields = _must_be_nullable()
    names = {f"{t}.{f}" for t, f, _ in fields}
    assert {"Query.customers", "Query.pipelines", "Query.funnel", "Opportunity.customer"} <= names
    assert {"Customer.opportunities", "Customer.openPipelineValue"} <= names
    # The one exception, by the contract: a live stage change always names its deal
    # (`StageChangeEvent.opportunity: Opportunity!`, a reference the gateway resolves).
    named_by_contract = {"StageChangeEvent.opportunity"}
    non_null = [
        f"{t}.{f}: {print_ast(ty)}"
        for t, f, ty in fields
        if isinstance(ty, NonNullTypeNode) and f"{t}.{f}" not in named_by_contract
    ]
    assert non_null == [], "make these nullable (docs/API.md, Partial answers)"


def test_the_document_gives_the_served_nullability_of_those_fields() -> None:
    served = {(t, f): print_ast(ty) for t, f, ty in _must_be_nullable()}
    for block in re.findall(r"```graphql\n(.*?)```", SERVED, re.S):
        for definition in parse(block).definitions:
            if not isinstance(definition, ObjectTypeDefinitionNode):
                continue
            for field in definition.fields or ():
                key = (definition.name.value, field.name.value)
                if key in served:
                    assert print_ast(field.type) == served[key], key
