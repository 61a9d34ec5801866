"""Questions about the supergraph schema's types that planning and freezing both ask."""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLOutputType,
    GraphQLSchema,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse_type,
)
from graphql.language import ListTypeNode, NamedTypeNode, NonNullTypeNode

from gateway.planning.errors import PlanningError


def unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, int]:
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


def field_definition(schema: GraphQLSchema, type_name: str, field_name: str) -> GraphQLField:
    type_ = schema.get_type(type_name)
    fields = getattr(type_, "fields", None)
    if fields is None or field_name not in fields:
        raise PlanningError(f"unknown field {type_name}.{field_name}")
    definition: GraphQLField = fields[field_name]
    return definition


def applies(schema: GraphQLSchema, type_condition: str, object_type: str) -> bool:
    """Whether a fragment on ``type_condition`` applies to objects of ``object_type``."""
    if type_condition == object_type:
        return True
    condition = schema.get_type(type_condition)
    if condition is None or is_object_type(condition):
        return False
    possible = schema.get_possible_types(condition)  # type: ignore[arg-type]
    return any(t.name == object_type for t in possible)


def possible_types(schema: GraphQLSchema, type_condition: str) -> tuple[str, ...]:
    condition = schema.get_type(type_condition)
    if condition is None or is_object_type(condition):
        return (type_condition,)
    possible = schema.get_possible_types(condition)  # type: ignore[arg-type]
    return tuple(t.name for t in possible)


def named_type_name(type_text: str) -> str:
    """``Book`` of ``[Book!]!``."""
    node = parse_type(type_text, no_location=True)
    while isinstance(node, ListTypeNode | NonNullTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    name: str = node.name.value
    return name
