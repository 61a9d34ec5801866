"""``@provides``: the fields a subgraph can resolve at one path although it does not own
them (``author: User @provides(fields: "name")``), as nested names; fragments in the field
set (``... on Book { title }``) stay keyed by their type condition, so that what they
provide only applies to objects of that type."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeAlias

from graphql import FieldNode, InlineFragmentNode, OperationDefinitionNode, SelectionNode, parse

Provided: TypeAlias = dict[str, "Provided"]

FRAGMENT = "... on "


def parse_provides(field_set: str) -> Provided:
    """A @provides field set as nested names; ``"... on T"`` entries for its fragments."""
    operation = parse(f"{{ {field_set} }}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    def names(selections: Collection[SelectionNode]) -> Provided:
        out: Provided = {}
        for s in selections:
            if isinstance(s, FieldNode):
                sub = names(s.selection_set.selections) if s.selection_set else {}
                out[s.name.value] = merge_provided(out.get(s.name.value), sub)
            elif isinstance(s, InlineFragmentNode):
                nested = names(s.selection_set.selections)
                if s.type_condition is None:
                    out = merge_provided(out, nested)
                else:
                    key = FRAGMENT + s.type_condition.name.value
                    out[key] = merge_provided(out.get(key), nested)
        return out

    return names(operation.selection_set.selections)


def merge_provided(a: Provided | None, b: Provided) -> Provided:
    merged = dict(a or {})
    for k, v in b.items():
        merged[k] = merge_provided(merged.get(k), v)
    return merged


def provided_on(
    provided: Provided, object_type: str, applies: Callable[[str, str], bool]
) -> Provided:
    """What is provided on objects of ``object_type``: the plain fields, and those of the
    fragments whose type condition applies to it."""
    out: Provided = {k: v for k, v in provided.items() if not k.startswith(FRAGMENT)}
    for k, v in provided.items():
        if k.startswith(FRAGMENT) and applies(k[len(FRAGMENT) :], object_type):
            out = merge_provided(out, provided_on(v, object_type, applies))
    return out


def provides_all(provided: Provided, node: FieldNode) -> bool:
    """Whether ``provided`` holds the field with its whole (key) sub-selection."""
    if node.name.value not in provided:
        return False
    sub = provided[node.name.value]
    nested = node.selection_set.selections if node.selection_set else ()
    return all(isinstance(s, FieldNode) and provides_all(sub, s) for s in nested)
