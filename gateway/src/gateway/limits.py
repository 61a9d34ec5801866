"""Guard rails on an operation, checked before any subgraph is called.

Two passes, so that a hostile document costs as little as possible:

- ``parse_limited`` parses with a token limit (graphql-core stops lexing at the limit), and
  ``check_shape`` then walks the syntax tree alone: depth, aliases, root fields, directives.
  Both run before validation, whose overlapping-fields rule is quadratic in the number of
  aliases of one field.
- ``operation_cost`` needs the schema (which fields are lists), so it runs on a validated
  document: each field costs 1 times the sizes of the lists above it; a list's size is its
  ``first``/``last``/``limit`` argument, else ``default_list_size``. A list directly below a
  paginated object (a connection's ``edges``) is that page, not another multiplier.

Each limit refused is its own code, and the request is answered 400 without data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)
from graphql.type.definition import GraphQLOutputType

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "QUERY_TOO_MANY_ALIASES"
TOO_MANY_ROOT_FIELDS = "QUERY_TOO_MANY_ROOT_FIELDS"
TOO_MANY_DIRECTIVES = "QUERY_TOO_MANY_DIRECTIVES"
TOO_MANY_TOKENS = "QUERY_TOO_MANY_TOKENS"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

PAGINATION_ARGUMENTS = ("first", "last", "limit")


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """``None`` turns one limit off; ``enabled=False`` all of them."""

    enabled: bool = True
    max_depth: int | None = 15
    max_aliases: int | None = 30
    max_root_fields: int | None = 20
    max_directives: int | None = 50
    max_tokens: int | None = 5000
    max_cost: int | None = 25_000
    default_list_size: int = 10


class LimitExceeded(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_limited(text: str, limits: OperationLimits) -> DocumentNode:
    """``parse``, refusing more than ``max_tokens`` tokens (``LimitExceeded``)."""
    max_tokens = limits.max_tokens if limits.enabled else None
    try:
        return parse(text, max_tokens=max_tokens)
    except GraphQLError as exc:
        if max_tokens is not None and "more than" in exc.message and "tokens" in exc.message:
            raise LimitExceeded(
                TOO_MANY_TOKENS, f"the document has more than {max_tokens} tokens"
            ) from exc
        raise


@dataclass(frozen=True, slots=True)
class DocumentShape:
    """What one walk of the syntax tree counts: enough for every limit that needs no schema."""

    aliases: int
    directives: int
    #: Variables given as a pagination argument: the cost depends on their values.
    page_size_variables: frozenset[str]


def measure_shape(document: DocumentNode) -> DocumentShape:
    """One walk over the selections with a stack (graphql-core's generic ``visit`` costs
    several times more: it was most of the guard rails' price on a new document)."""
    aliases = 0
    directives = 0
    page_variables: set[str] = set()
    stack: list[SelectionSetNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            directives += len(definition.directives or ())
            for variable in getattr(definition, "variable_definitions", None) or ():
                directives += len(variable.directives or ())
            stack.append(definition.selection_set)
    while stack:
        for selection in stack.pop().selections:
            directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    aliases += 1
                for argument in selection.arguments or ():
                    if argument.name.value in PAGINATION_ARGUMENTS and isinstance(
                        argument.value, VariableNode
                    ):
                        page_variables.add(argument.value.name.value)
                if selection.selection_set is not None:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
    return DocumentShape(aliases, directives, frozenset(page_variables))


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    memo: dict[str, int],
    visiting: set[str],
) -> int:
    """Levels of fields below (and including) this selection set; fragments inlined."""
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                # Introspection is answered by the gateway itself and bounded by the schema.
                continue
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, memo, visiting))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, memo, visiting))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in memo:
                fragment = fragments.get(name)
                if fragment is None or name in visiting:
                    continue  # unknown or cyclic: validation refuses it
                visiting.add(name)
                memo[name] = _depth(fragment.selection_set, fragments, memo, visiting)
                visiting.discard(name)
            deepest = max(deepest, memo[name])
    return deepest


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            count += 1
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and fragment.name.value not in seen:
                seen.add(fragment.name.value)
                count += _root_fields(fragment.selection_set, fragments, seen)
    return count


def check_shape(document: DocumentNode, limits: OperationLimits) -> DocumentShape | None:
    """Depth, aliases, root fields and directives of every operation of the document; the
    shape measured (``None`` when the limits are off)."""
    if not limits.enabled:
        return None
    shape = measure_shape(document)
    if limits.max_aliases is not None and shape.aliases > limits.max_aliases:
        raise LimitExceeded(
            TOO_MANY_ALIASES,
            f"the document has {shape.aliases} aliases; at most {limits.max_aliases} allowed",
        )
    if limits.max_directives is not None and shape.directives > limits.max_directives:
        raise LimitExceeded(
            TOO_MANY_DIRECTIVES,
            f"the document has {shape.directives} directives;"
            f" at most {limits.max_directives} allowed",
        )
    fragments = _fragments(document)
    memo: dict[str, int] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if limits.max_depth is not None:
            depth = _depth(definition.selection_set, fragments, memo, set())
            if depth > limits.max_depth:
                raise LimitExceeded(
                    QUERY_TOO_DEEP,
                    f"the operation is {depth} levels deep; at most {limits.max_depth} allowed",
                )
        if limits.max_root_fields is not None:
            roots = _root_fields(definition.selection_set, fragments, set())
            if roots > limits.max_root_fields:
                raise LimitExceeded(
                    TOO_MANY_ROOT_FIELDS,
                    f"the operation asks for {roots} root fields;"
                    f" at most {limits.max_root_fields} allowed",
                )
    return shape


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            is_list = True
        type_ = type_.of_type
    return type_, is_list


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for argument in field.arguments or ():
        if argument.name.value not in PAGINATION_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if isinstance(given, int):
                return given
    return None


class _CostWalker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        default_list_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_list_size = default_list_size

    def cost(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode | None,
        paginated_parent: bool,
        visiting: frozenset[str] = frozenset(),
    ) -> int:
        """The cost of one instance of ``parent``'s selection set."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(parent, selection, paginated_parent, visiting)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(
                    target or parent, selection.selection_set, paginated_parent, visiting
                )
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or fragment.name.value in visiting:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.cost(
                    target or parent,
                    fragment.selection_set,
                    paginated_parent,
                    visiting | {fragment.name.value},
                )
        return total

    def _field_cost(
        self,
        parent: GraphQLNamedType,
        field: FieldNode,
        paginated_parent: bool,
        visiting: frozenset[str],
    ) -> int:
        name = field.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 1
        definition = parent.fields.get(name)
        if definition is None:
            return 1
        named, is_list = _unwrap(definition.type)
        page = _page_size(field, self.variables)
        if page is not None:
            multiplier = max(page, 1)
        elif is_list and not paginated_parent:
            multiplier = self.default_list_size
        else:
            multiplier = 1
        # A paginated object (a connection): the lists right below it are that page.
        connection = page is not None and not is_list
        below = self.cost(named, field.selection_set, connection, visiting)
        return multiplier * (1 + below)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    default_list_size: int,
) -> int:
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    walker = _CostWalker(schema, _fragments(document), variables, default_list_size)
    return walker.cost(root, operation.selection_set, False)


def check_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    limits: OperationLimits,
) -> None:
    if not limits.enabled or limits.max_cost is None:
        return
    cost = operation_cost(schema, document, operation, variables, limits.default_list_size)
    if cost > limits.max_cost:
        raise LimitExceeded(
            QUERY_TOO_COMPLEX,
            f"the operation's estimated cost is {cost}; at most {limits.max_cost} allowed"
            f" (a list counts as its first/last/limit argument, else {limits.default_list_size})",
        )
