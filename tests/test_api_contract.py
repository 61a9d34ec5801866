"""docs/API.md stays true: every type and field it lists as served (all but the reserved
section) exists in the composed supergraph, with the same name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLObjectType, ObjectTypeDefinitionNode, build_schema, parse

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
