"""The suite's scalars whose values the gateway can check before planning anything.

The supergraph declares custom scalars without their rules, so graphql-core lets any value
through and a subgraph refuses it later, after the gateway has planned and sent a fetch (and
a refused variable then also nulls its non-null root field). ``Date`` is checked here with the
very rule of the subgraphs (Strawberry's ``Date``: ``datetime.date.fromisoformat``), so an
impossible date (``2024-02-30``, ``9999-99-99``) is ``BAD_USER_INPUT`` at the gateway. The value
travels on unchanged: the subgraph still parses it itself.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, StringValueNode, ValueNode


def _date(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"Value cannot represent a Date: {value!r}. Expected a string.")
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise GraphQLError(f'Value cannot represent a Date: "{value}". {exc}') from exc
    return value


def _date_literal(node: ValueNode, *_: Any) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("Value cannot represent a Date: expected a string.")
    return _date(node.value)


def check_known_scalars(schema: GraphQLSchema) -> None:
    """Give the schema's ``Date`` scalar its rule (in place)."""
    scalar = schema.type_map.get("Date")
    if isinstance(scalar, GraphQLScalarType):
        # graphql-core 3.3 coerces through these two (parse_value/parse_literal are legacy).
        scalar.coerce_input_value = _date
        scalar.coerce_input_literal = _date_literal
