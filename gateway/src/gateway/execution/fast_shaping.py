"""The response shaped straight from the merged data, without graphql-core's executor.

The hot path of every request: the client's selection is walked over the merged subgraph
data (fragments applied per runtime ``__typename``, ``@skip``/``@include`` evaluated,
``__typename`` filled in, same response keys merged), and nulls in non-null positions
bubble to the nearest nullable parent as the GraphQL spec says, with a "Cannot return null"
error only where no subgraph error already explains the null. Leaf values pass through as
the subgraphs serialized them. The field collection of each (type, selection sets) is
memoised when the operation has no variable-dependent directives.

Operations with introspection (``__schema``, ``__type``) go through graphql-core
(``shaping.shape_response``), which answers them from the API schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
)

from gateway.execution.error_paths import client_paths
from gateway.execution.executor import ExecutionOutcome

# Per response key: its field name, definition (None for __typename), sub-selections, and
# how to complete it: _TYPENAME, _LEAF (nullable leaf), _LEAF_NON_NULL, or _OTHER.
_Collected = list[tuple[str, str, GraphQLField | None, list[SelectionSetNode], int]]
_TYPENAME, _LEAF, _LEAF_NON_NULL, _OTHER = range(4)


def _kind(field: GraphQLField | None) -> int:
    if field is None:
        return _TYPENAME
    type_ = field.type
    # Enum values are checked against the API schema (a subgraph may return one that is
    # @inaccessible there): completed as _OTHER.
    if isinstance(type_, GraphQLNonNull):
        return _LEAF_NON_NULL if _plain_leaf(type_.of_type) else _OTHER
    return _LEAF if _plain_leaf(type_) else _OTHER


def _plain_leaf(type_: GraphQLOutputType) -> bool:
    return is_leaf_type(type_) and not isinstance(type_, GraphQLEnumType)


class _Null(Exception):
    """A null in a non-null position, bubbling up to the nearest nullable parent."""


def needs_graphql_core(document: DocumentNode) -> bool:
    """Introspection is answered by graphql-core from the API schema."""
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.name.value in ("__schema", "__type"):
            return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


def _has_variable_conditions(document: DocumentNode) -> bool:
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            if directive.name.value in ("skip", "include") and any(
                isinstance(a.value, VariableNode) for a in directive.arguments or ()
            ):
                return True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return False


class FastShaper:
    """Shapes responses for one operation of one document (build once, use per request)."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        root = schema.get_root_type(operation.operation)
        assert root is not None
        self.root: GraphQLObjectType = root
        self._static = not _has_variable_conditions(document)
        # Keyed by the identity of the list of selection sets: those lists live as long as
        # this shaper (the root one here, the others inside the memoised collections).
        self._collected: dict[tuple[str, int], _Collected] = {}
        self._root_sets = [operation.selection_set]

    @property
    def root_sets(self) -> list[SelectionSetNode]:
        return self._root_sets

    def shape(self, outcome: ExecutionOutcome, variables: Mapping[str, Any]) -> dict[str, Any]:
        outcome.errors = client_paths(self, outcome.errors, outcome.data, variables)
        run = _Run(self, variables, outcome.errors)
        try:
            data: Any = run.object(self.root, self._root_sets, outcome.data, [])
        except _Null:
            data = None
        response: dict[str, Any] = {"data": data}
        errors = [*outcome.errors, *run.errors]
        if errors:
            response["errors"] = errors
        return response

    def collect(
        self, type_: GraphQLObjectType, sets: list[SelectionSetNode], variables: Mapping[str, Any]
    ) -> _Collected:
        key = (type_.name, id(sets))
        if self._static:
            cached = self._collected.get(key)
            if cached is not None:
                return cached
        fields: dict[str, tuple[str, GraphQLField | None, list[SelectionSetNode]]] = {}

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not _included(selection, variables):
                    continue
                if isinstance(selection, FieldNode):
                    name = selection.name.value
                    response_key = selection.alias.value if selection.alias else name
                    entry = fields.get(response_key)
                    if entry is None:
                        entry = (name, type_.fields.get(name), [])
                        fields[response_key] = entry
                    if selection.selection_set is not None:
                        entry[2].append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self._applies(condition.name.value, type_):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is not None and self._applies(
                        fragment.type_condition.name.value, type_
                    ):
                        visit(fragment.selection_set)

        for selection_set in sets:
            visit(selection_set)
        collected = [(k, name, f, subs, _kind(f)) for k, (name, f, subs) in fields.items()]
        if self._static:
            self._collected[key] = collected
        return collected

    def _applies(self, condition: str, type_: GraphQLObjectType) -> bool:
        if condition == type_.name:
            return True
        named = self.schema.get_type(condition)
        return is_abstract_type(named) and self.schema.is_sub_type(named, type_)


def _included(selection: Any, variables: Mapping[str, Any]) -> bool:
    for directive in selection.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        for argument in directive.arguments or ():
            if argument.name.value != "if":
                continue
            value = argument.value
            if isinstance(value, BooleanValueNode):
                condition = value.value
            elif isinstance(value, VariableNode):
                condition = bool(variables.get(value.name.value))
            else:
                continue
            if condition is (name == "skip"):
                return False
    return True


class _Run:
    def __init__(
        self, shaper: FastShaper, variables: Mapping[str, Any], subgraph_errors: list[Any]
    ) -> None:
        self.shaper = shaper
        self.variables = variables
        self.errors: list[dict[str, Any]] = []
        self.error_paths = [
            tuple(e["path"]) for e in subgraph_errors if isinstance(e.get("path"), list)
        ]

    def object(
        self,
        type_: GraphQLObjectType,
        sets: list[SelectionSetNode],
        value: Mapping[str, Any],
        path: list[str | int],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, name, field, subs, kind in self.shaper.collect(type_, sets, self.variables):
            if kind == _LEAF:
                out[key] = value.get(key)
                continue
            if kind == _LEAF_NON_NULL:
                leaf = value.get(key)
                if leaf is None:
                    path.append(key)
                    self.null_error(path, type_, name)
                    path.pop()
                    raise _Null
                out[key] = leaf
                continue
            if field is None:  # __typename (validation let nothing else through)
                out[key] = type_.name
                continue
            path.append(key)
            try:
                out[key] = self.complete(field.type, subs, value.get(key), path, type_, name)
            finally:
                path.pop()
        return out

    def complete(
        self,
        type_: GraphQLOutputType,
        subs: list[SelectionSetNode],
        value: Any,
        path: list[str | int],
        parent: GraphQLObjectType,
        name: str,
    ) -> Any:
        if isinstance(type_, GraphQLNonNull):
            result = self.complete(type_.of_type, subs, value, path, parent, name)
            if result is None:
                if value is None:
                    self.null_error(path, parent, name)
                raise _Null
            return result
        if value is None:
            return None
        if type_.__class__ is GraphQLObjectType and value.__class__ is dict:
            try:
                return self.object(type_, subs, value, path)
            except _Null:
                return None
        try:
            if isinstance(type_, GraphQLList):
                if not isinstance(value, list):
                    return self.bad_value(path, f"Expected a list for {parent.name}.{name}.")
                items = []
                for index, item in enumerate(value):
                    path.append(index)
                    try:
                        items.append(self.complete(type_.of_type, subs, item, path, parent, name))
                    finally:
                        path.pop()
                return items
            if isinstance(type_, GraphQLEnumType):
                if not isinstance(value, str) or value not in type_.values:
                    # Not a value of the API schema (e.g. @inaccessible): null, as
                    # graphql-js serializes it.
                    shown = json.dumps(value)
                    return self.bad_value(
                        path, f'Enum "{type_.name}" cannot represent value: {shown}'
                    )
                return value
            if is_leaf_type(type_):
                return value
            if not isinstance(value, dict):
                return self.bad_value(path, f"Expected an object for {parent.name}.{name}.")
            object_type = self.runtime_type(type_, value)
            if object_type is None:
                return self.bad_value(
                    path, f"Abstract type '{type_}' could not resolve the runtime type."
                )
            return self.object(object_type, subs, value, path)
        except _Null:
            return None

    def runtime_type(self, type_: Any, value: Mapping[str, Any]) -> GraphQLObjectType | None:
        if isinstance(type_, GraphQLObjectType):
            return type_
        schema = self.shaper.schema
        assert isinstance(type_, GraphQLAbstractType)
        name = value.get("__typename")
        if name == type_.name:  # an @interfaceObject's object (see shaping._resolve_type)
            possible = schema.get_possible_types(type_)
            return possible[0] if possible else None
        named = schema.get_type(name) if isinstance(name, str) else None
        if isinstance(named, GraphQLObjectType) and schema.is_sub_type(type_, named):
            return named
        return None

    def null_error(self, path: list[str | int], parent: GraphQLObjectType, name: str) -> None:
        here = tuple(path)
        enclosing = here[:-1] if len(here) > 1 else None
        for at in self.error_paths:
            # A subgraph error at or below this field, or at an ancestor (its whole entity
            # failed), already explains the null; so does one on a sibling field, since a
            # subgraph nulls a whole entity (and @requires inputs) when one field fails.
            if (
                at[: len(here)] == here
                or here[: len(at)] == at
                or (enclosing is not None and at[: len(enclosing)] == enclosing)
            ):
                return
        self.errors.append(
            {
                "message": f"Cannot return null for non-nullable field {parent.name}.{name}.",
                "path": list(path),
            }
        )

    def bad_value(self, path: list[str | int], message: str) -> None:
        self.errors.append({"message": message, "path": list(path)})
        return None
