"""Changes between two client-facing schemas (the API schemas of two supergraphs) that can
break a client: removed or retyped fields, arguments removed or made required, enum values
removed, input fields removed or made required, nullability tightened where clients send
values (arguments, input fields) or loosened where they read them (output fields).

Each change names the schema coordinate whose use makes it breaking (``usage_key``); the
check then looks for operations that used it.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
)
from graphql.pyutils import Undefined as _UNDEFINED


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    coordinate: str  # e.g. "Opportunity.title", "Query.customers(first:)", "Stage.kind.WON"
    message: str
    usage_key: str  # the coordinate a client must have used for this to break it


def _printed(type_: GraphQLType) -> str:
    return str(type_)


def _output_compatible(old: GraphQLType, new: GraphQLType) -> bool:
    """A client reading ``old`` still reads ``new``: same type, or made non-null."""
    if isinstance(new, GraphQLNonNull):
        inner = old.of_type if isinstance(old, GraphQLNonNull) else old
        return _output_compatible(inner, new.of_type)
    if isinstance(old, GraphQLNonNull):
        return False  # nullability loosened: a client may get null where it could not
    if isinstance(old, GraphQLList) and isinstance(new, GraphQLList):
        return _output_compatible(old.of_type, new.of_type)
    if isinstance(old, GraphQLList) or isinstance(new, GraphQLList):
        return False
    return getattr(old, "name", None) == getattr(new, "name", None)


def _input_compatible(old: GraphQLType, new: GraphQLType) -> bool:
    """A value a client sent for ``old`` is still accepted by ``new``: same, or made nullable."""
    if isinstance(old, GraphQLNonNull):
        inner = new.of_type if isinstance(new, GraphQLNonNull) else new
        return _input_compatible(old.of_type, inner)
    if isinstance(new, GraphQLNonNull):
        return False  # nullability tightened
    if isinstance(old, GraphQLList) and isinstance(new, GraphQLList):
        return _input_compatible(old.of_type, new.of_type)
    if isinstance(old, GraphQLList) or isinstance(new, GraphQLList):
        return False
    return getattr(old, "name", None) == getattr(new, "name", None)


def _required(argument: GraphQLArgument | GraphQLInputField) -> bool:
    return isinstance(argument.type, GraphQLNonNull) and argument.default_value is _UNDEFINED


def _arguments(
    changes: list[Change],
    coordinate: str,
    old: dict[str, GraphQLArgument],
    new: dict[str, GraphQLArgument],
) -> None:
    for name, argument in old.items():
        where = f"{coordinate}({name}:)"
        if name not in new:
            changes.append(
                Change("ARGUMENT_REMOVED", where, f"argument {where} was removed", coordinate)
            )
        elif not _input_compatible(argument.type, new[name].type):
            changes.append(
                Change(
                    "ARGUMENT_TYPE_CHANGED",
                    where,
                    f"argument {where} changed type from {_printed(argument.type)}"
                    f" to {_printed(new[name].type)}",
                    where,
                )
            )
    for name, argument in new.items():
        if name not in old and _required(argument):
            changes.append(
                Change(
                    "REQUIRED_ARGUMENT_ADDED",
                    f"{coordinate}({name}:)",
                    f"argument {coordinate}({name}:) was added as required",
                    coordinate,
                )
            )


def breaking_changes(old: GraphQLSchema, new: GraphQLSchema) -> list[Change]:
    changes: list[Change] = []
    for name, old_type in old.type_map.items():
        if name.startswith("__"):
            continue
        new_type = new.type_map.get(name)
        if new_type is None:
            changes.append(Change("TYPE_REMOVED", name, f"type {name} was removed", name))
            continue
        if type(old_type) is not type(new_type):
            changes.append(Change("TYPE_KIND_CHANGED", name, f"type {name} changed kind", name))
            continue
        if isinstance(old_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(new_type, GraphQLObjectType | GraphQLInterfaceType)
            for field_name, field in old_type.fields.items():
                coordinate = f"{name}.{field_name}"
                new_field = new_type.fields.get(field_name)
                if new_field is None:
                    changes.append(
                        Change(
                            "FIELD_REMOVED",
                            coordinate,
                            f"field {coordinate} was removed",
                            coordinate,
                        )
                    )
                    continue
                if not _output_compatible(field.type, new_field.type):
                    changes.append(
                        Change(
                            "FIELD_TYPE_CHANGED",
                            coordinate,
                            f"field {coordinate} changed type from {_printed(field.type)}"
                            f" to {_printed(new_field.type)}",
                            coordinate,
                        )
                    )
                _arguments(changes, coordinate, field.args, new_field.args)
        elif isinstance(old_type, GraphQLEnumType):
            assert isinstance(new_type, GraphQLEnumType)
            for value in old_type.values:
                if value not in new_type.values:
                    changes.append(
                        Change(
                            "ENUM_VALUE_REMOVED",
                            f"{name}.{value}",
                            f"enum value {name}.{value} was removed",
                            name,
                        )
                    )
        elif isinstance(old_type, GraphQLInputObjectType):
            assert isinstance(new_type, GraphQLInputObjectType)
            for field_name, input_field in old_type.fields.items():
                coordinate = f"{name}.{field_name}"
                new_input = new_type.fields.get(field_name)
                if new_input is None:
                    changes.append(
                        Change(
                            "INPUT_FIELD_REMOVED",
                            coordinate,
                            f"input field {coordinate} was removed",
                            name,
                        )
                    )
                elif not _input_compatible(input_field.type, new_input.type):
                    changes.append(
                        Change(
                            "INPUT_FIELD_TYPE_CHANGED",
                            coordinate,
                            f"input field {coordinate} changed type from"
                            f" {_printed(input_field.type)} to {_printed(new_input.type)}",
                            name,
                        )
                    )
            for field_name, input_field in new_type.fields.items():
                if field_name not in old_type.fields and _required(input_field):
                    changes.append(
                        Change(
                            "REQUIRED_INPUT_FIELD_ADDED",
                            f"{name}.{field_name}",
                            f"input field {name}.{field_name} was added as required",
                            name,
                        )
                    )
        elif isinstance(old_type, GraphQLUnionType):
            assert isinstance(new_type, GraphQLUnionType)
            kept = {t.name for t in new_type.types}
            for member in old_type.types:
                if member.name not in kept:
                    changes.append(
                        Change(
                            "UNION_MEMBER_REMOVED",
                            f"{name}.{member.name}",
                            f"{member.name} was removed from union {name}",
                            name,
                        )
                    )
    return changes
