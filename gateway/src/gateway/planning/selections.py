"""The selections of a subgraph operation while the planner builds it, and their printing.

Mutable on purpose: the planner adds key fields to a parent selection after it was created,
and fields to an entity fetch as it meets them. Printed once, through graphql-core's AST
printer on one line, when the plan is frozen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    Node,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    print_ast,
)


@dataclass(eq=False)
class FieldSelection:
    name: str
    alias: str | None = None
    arguments: tuple[ArgumentNode, ...] = ()
    directives: tuple[DirectiveNode, ...] = ()
    selections: list[Selection] | None = None

    @property
    def response_key(self) -> str:
        return self.alias or self.name

    @property
    def is_plain(self) -> bool:
        """No alias, arguments or directives: what a key or @requires field looks like."""
        return self.alias is None and not self.arguments and not self.directives


@dataclass(eq=False)
class FragmentSelection:
    type_condition: str | None
    directives: tuple[DirectiveNode, ...] = ()
    selections: list[Selection] = field(default_factory=list)


Selection: TypeAlias = FieldSelection | FragmentSelection


def typename_field() -> FieldSelection:
    return FieldSelection("__typename")


def add_plain_fields(target: list[Selection], fields: Iterable[Selection]) -> None:
    """Add key or @requires fields to a selection, merging with the plain ones already there
    (and fragments, in @requires field sets, with the directive-less ones of their type).

    The client may already select them (``id``); selecting them twice would be harmless but
    noisy, so a plain field of the same name absorbs the new one.
    """
    for new in fields:
        if isinstance(new, FragmentSelection):
            block = next(
                (
                    s
                    for s in target
                    if isinstance(s, FragmentSelection)
                    and not s.directives
                    and s.type_condition == new.type_condition
                ),
                None,
            )
            if block is None:
                target.append(new)
            else:
                add_plain_fields(block.selections, new.selections)
            continue
        existing = next(
            (
                s
                for s in target
                if isinstance(s, FieldSelection)
                and s.alias == new.alias
                and not s.directives
                and s.name == new.name
                and _print_arguments(s.arguments) == _print_arguments(new.arguments)
            ),
            None,
        )
        if existing is None:
            target.append(new)
        elif new.selections:
            if existing.selections is None:
                existing.selections = []
            add_plain_fields(existing.selections, new.selections)


def conditional_block(
    target: list[Selection], conditions: tuple[tuple[DirectiveNode, ...], ...]
) -> list[Selection]:
    """The list to add to under the given nested fragment directives (@skip/@include).

    Each level becomes a type-less inline fragment (``... @include(if: $x) { }``), reused if
    the last selection already is the same block.
    """
    for directives in conditions:
        printed = _print_directives(directives)
        last = target[-1] if target else None
        if (
            isinstance(last, FragmentSelection)
            and last.type_condition is None
            and _print_directives(last.directives) == printed
        ):
            target = last.selections
        else:
            block = FragmentSelection(None, directives)
            target.append(block)
            target = block.selections
    return target


def _print_arguments(arguments: tuple[ArgumentNode, ...]) -> str:
    return " ".join(print_ast(a) for a in arguments)


def _print_directives(directives: tuple[DirectiveNode, ...]) -> str:
    return " ".join(print_ast(d) for d in directives)


def to_selection_set(selections: list[Selection]) -> SelectionSetNode:
    nodes: list[FieldNode | InlineFragmentNode] = []
    for selection in selections:
        if isinstance(selection, FieldSelection):
            nodes.append(
                FieldNode(
                    alias=NameNode(value=selection.alias) if selection.alias else None,
                    name=NameNode(value=selection.name),
                    arguments=selection.arguments,
                    directives=selection.directives,
                    selection_set=(
                        to_selection_set(selection.selections)
                        if selection.selections is not None
                        else None
                    ),
                )
            )
        else:
            nodes.append(
                InlineFragmentNode(
                    type_condition=(
                        NamedTypeNode(name=NameNode(value=selection.type_condition))
                        if selection.type_condition
                        else None
                    ),
                    directives=selection.directives,
                    selection_set=to_selection_set(selection.selections),
                )
            )
    return SelectionSetNode(selections=tuple(nodes))


def variables_used(selections: list[Selection]) -> list[str]:
    """Names of the variables the selections use, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in _value_nodes(selections):
        for name in _variables_in_value(node):
            seen.setdefault(name)
    return list(seen)


def _value_nodes(selections: list[Selection]) -> Iterator[ValueNode]:
    for selection in selections:
        for directive in selection.directives:
            yield from (a.value for a in directive.arguments or ())
        if isinstance(selection, FieldSelection):
            yield from (a.value for a in selection.arguments)
            if selection.selections is not None:
                yield from _value_nodes(selection.selections)
        else:
            yield from _value_nodes(selection.selections)


def _variables_in_value(node: Node) -> Iterator[str]:
    if isinstance(node, VariableNode):
        yield node.name.value
        return
    for key in node.keys:
        child = getattr(node, key, None)
        if isinstance(child, Node):
            yield from _variables_in_value(child)
        elif isinstance(child, tuple | list):
            for item in child:
                if isinstance(item, Node):
                    yield from _variables_in_value(item)


def printed(selections: list[Selection]) -> str:
    """The selections printed on one line (to compare them)."""
    return print_ast(to_selection_set(selections), max_indent_depth=0)
