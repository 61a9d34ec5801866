"""Derive the API schema (what clients see) from the supergraph SDL.

As Apollo does: remove the machinery of every linked Apollo spec (``@link``, ``join__*``,
``@inaccessible``, ``@tag`` ...) and every element marked ``@inaccessible``. Directives of
other features (e.g. composed with ``@composeDirective``) stay.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    GraphQLSchema,
    InputValueDefinitionNode,
    NamedTypeNode,
    Node,
    TypeDefinitionNode,
    TypeExtensionNode,
    Visitor,
    assert_valid_schema,
    build_ast_schema,
    visit,
)

from gateway.supergraph.links import LinkedFeature
from gateway.supergraph.scalars import check_known_scalars


class _ApiSchemaFilter(Visitor):
    def __init__(self, features: list[LinkedFeature], inaccessible_types: set[str]) -> None:
        super().__init__()
        self._machinery = [f for f in features if f.is_apollo_spec]
        self._inaccessible = _inaccessible_directive(features)
        self._inaccessible_types = inaccessible_types

    def _is_machinery_directive(self, name: str) -> bool:
        return any(f.owns_directive(name) for f in self._machinery)

    def _is_machinery_type(self, name: str) -> bool:
        return any(f.owns_type(name) for f in self._machinery)

    def _hidden(self, node: Any) -> bool:
        return self._inaccessible is not None and any(
            d.name.value == self._inaccessible for d in node.directives or ()
        )

    def enter_directive_definition(self, node: DirectiveDefinitionNode, *_: Any) -> Any:
        return self.REMOVE if self._is_machinery_directive(node.name.value) else None

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        return self.REMOVE if self._is_machinery_directive(node.name.value) else None

    def enter(self, node: Node, *_: Any) -> Any:
        if isinstance(node, TypeDefinitionNode | TypeExtensionNode):
            name = node.name.value
            if self._is_machinery_type(name) or name in self._inaccessible_types:
                return self.REMOVE
        elif isinstance(
            node, FieldDefinitionNode | InputValueDefinitionNode | EnumValueDefinitionNode
        ) and self._hidden(node):
            return self.REMOVE
        return None

    def enter_named_type(self, node: NamedTypeNode, key: Any, *_: Any) -> Any:
        # In a list (union members, implemented interfaces), a hidden type is dropped; as a
        # field's type it cannot be hidden unless the field is, which composition enforces.
        if isinstance(key, int) and node.name.value in self._inaccessible_types:
            return self.REMOVE
        return None


def _inaccessible_directive(features: list[LinkedFeature]) -> str | None:
    for feature in features:
        if feature.is_apollo_spec and feature.spec == "inaccessible":
            return feature.name
    return None


def _inaccessible_types(document: DocumentNode, directive: str | None) -> set[str]:
    if directive is None:
        return set()
    return {
        d.name.value
        for d in document.definitions
        if isinstance(d, TypeDefinitionNode)
        and any(x.name.value == directive for x in d.directives or ())
    }


def build_api_schema(document: DocumentNode, features: list[LinkedFeature]) -> GraphQLSchema:
    hidden_types = _inaccessible_types(document, _inaccessible_directive(features))
    filtered = visit(document, _ApiSchemaFilter(features, hidden_types))
    schema = build_ast_schema(filtered)
    assert_valid_schema(schema)
    check_known_scalars(schema)
    return schema
