"""Field sets of ``@key`` and ``@requires`` (``id``, ``price weight``, ``dims { size }``):
parsed once, handed out as fresh selections the planner may change, and turned into the
plan's ``FieldRequirement`` data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

from graphql import FieldNode, OperationDefinitionNode, SelectionNode, parse

from gateway.planning.plan import FieldRequirement, FragmentRequirement, Requirement
from gateway.planning.selections import FieldSelection, FragmentSelection, Selection


@lru_cache(maxsize=1024)
def parse_field_set(field_set: str) -> tuple[SelectionNode, ...]:
    """The field set's top-level selections (inline fragments kept)."""
    operation = parse(f"{{ {field_set} }}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return tuple(operation.selection_set.selections)


def top_fields(field_set: str) -> tuple[FieldNode, ...]:
    """The top-level fields of a key (keys select no fragments at their top)."""
    return tuple(s for s in parse_field_set(field_set) if isinstance(s, FieldNode))


def field_set(fields: str) -> list[FieldSelection]:
    """Fresh selections for a key field set (the planner mutates them)."""

    def convert(node: FieldNode) -> FieldSelection:
        subs = node.selection_set.selections if node.selection_set else None
        return FieldSelection(
            node.name.value,
            arguments=tuple(node.arguments or ()),
            selections=(
                [convert(s) for s in subs if isinstance(s, FieldNode)] if subs is not None else None
            ),
        )

    return [convert(node) for node in top_fields(fields)]


def requirement(
    selection: Selection, possible_types: Callable[[str], tuple[str, ...]]
) -> Requirement:
    """The plan data of a required selection; ``possible_types`` gives the object types a
    fragment's type condition stands for."""
    if isinstance(selection, FragmentSelection):
        assert selection.type_condition is not None
        return FragmentRequirement(
            selection.type_condition,
            possible_types(selection.type_condition),
            tuple(requirement(s, possible_types) for s in selection.selections),
        )
    return FieldRequirement(
        selection.name,
        tuple(requirement(s, possible_types) for s in selection.selections or ()),
        selection.alias,
    )


def copy_fields(fields: Iterable[Selection]) -> list[Selection]:
    copies: list[Selection] = []
    for original in fields:
        if isinstance(original, FieldSelection):
            copy = FieldSelection(original.name, original.alias, original.arguments)
            if original.selections is not None:
                copy.selections = copy_fields(original.selections)
            copies.append(copy)
        elif original.type_condition is not None and not original.directives:
            copies.append(
                FragmentSelection(original.type_condition, (), copy_fields(original.selections))
            )
    return copies
