"""Strawberry glue shared by the three subgraphs: error codes on the wire, the limits every
subgraph puts on the documents it runs, and the schema class that logs only real incidents.

A ``CrmError`` raised anywhere below a resolver becomes a GraphQL error whose
``extensions.code`` is the error's code (API.md); anything else is an internal error whose
message is not leaked to clients. A ``CrmError`` that graphql-core wrapped in another
``GraphQLError`` (a scalar refusing a variable's value raises inside the coercion) is unwrapped
first, so the client gets its code and message rather than an internal error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import strawberry.federation
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from crm_common.errors import CrmError, as_crm_error, is_input_value_problem

log = logging.getLogger(__name__)

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


def innermost_crm_error(error: BaseException | None) -> CrmError | None:
    """The ``CrmError`` behind an error, through the GraphQLErrors graphql-core wrapped it in
    (a domain's ``RuleViolation`` is translated into its ``BadUserInput``)."""
    seen = 0
    while isinstance(error, GraphQLError) and seen < 5:
        error, seen = error.original_error, seen + 1
    return as_crm_error(error)


def _with_code(error: GraphQLError) -> GraphQLError:
    original = innermost_crm_error(error.original_error) or error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, CrmError):
        extensions["code"] = original.code
        if original.details:
            extensions.update(original.details)
        message = original.message
    elif original is None or error.path is None:
        # Before execution (parsing, validation, variable coercion): the client's document or
        # its values are at fault, never the server. A value that cannot be what its type
        # says (2024-02-30 for a Date, "abc" for an Int) is BAD_USER_INPUT.
        code = "BAD_USER_INPUT" if is_input_value_problem(error.message) else VALIDATION_FAILED
        extensions.setdefault("code", code)
        message = error.message
        original = None
    else:
        log.error("unexpected error in resolver", exc_info=original)
        extensions["code"] = "INTERNAL_SERVER_ERROR"
        message = "internal error"
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_with_code(e) for e in result.errors]


def in_production() -> bool:
    """Whether this process runs in production (``CRM_ENV``, as ``CommonSettings`` reads it)."""
    return os.environ.get("CRM_ENV", "").strip().lower() == "production"


def _asked_fields(document: DocumentNode) -> tuple[set[str], set[str]]:
    """(the root fields, every field name) of a document's operations and fragments."""
    roots: set[str] = set()
    names: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            roots |= {
                s.name.value
                for s in definition.selection_set.selections
                if isinstance(s, FieldNode)
            }
    for node in _walk(document):
        names.add(node.name.value)
    return roots, names


def _walk(document: DocumentNode) -> Iterator[FieldNode]:
    pending: list[Any] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        selection_set = pending.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            if getattr(selection, "selection_set", None) is not None:
                pending.append(selection.selection_set)


class ProductionIntrospection(SchemaExtension):
    """In production a subgraph answers no introspection (``__schema``, ``__type``) and its
    ``_service { sdl }`` only to a ``service`` token (the gateway and the schema registry
    compose the graph from it); clients learn the graph from the gateway's API schema.
    Refused: ``FORBIDDEN``, nothing executed."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if in_production() and document is not None:
            roots, names = _asked_fields(document)
            problem = None
            if names & {"__schema", "__type"}:
                problem = "introspection is disabled in production"
            elif "_service" in roots:
                identity = getattr(context.context, "identity_or_none", None)
                if identity is None:
                    identity = getattr(context.context, "identity", None)
                if "service" not in getattr(identity, "roles", ()):
                    problem = "_service is answered to a service token only in production"
            if problem is not None:
                context.result = ExecutionResult(
                    data=None, errors=[GraphQLError(problem, extensions={"code": "FORBIDDEN"})]
                )
        yield


class SubgraphSchema(strawberry.federation.Schema):
    """A federation schema that logs only unexpected errors: a ``CrmError`` (bad input,
    forbidden, not found) is the caller's business, answered with its code, not an incident."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e
            for e in errors
            # A path-less error came before execution: the client's document, not an incident.
            if e.path is not None and innermost_crm_error(e.original_error) is None
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


class SubgraphLimits(BaseSettings):
    """Limits every subgraph enforces on the documents it is sent (environment ``SUBGRAPH_``).

    Subgraphs are reachable without the gateway, so they cannot rely on its guard rails. They
    are looser than the gateway's defaults: the gateway's own fetches (``_entities`` with an
    inline fragment, aliased fields) are a few levels deeper than the client's operation.
    """

    model_config = SettingsConfigDict(env_prefix="SUBGRAPH_", extra="ignore")

    max_depth: int = Field(default=24, ge=1)
    max_aliases: int = Field(default=200, ge=1)
    max_tokens: int = Field(default=20_000, ge=1)


def guard_extensions(
    limits: SubgraphLimits | None = None,
) -> list[Callable[[], SchemaExtension]]:
    """Strawberry's depth, alias and token limiters, configured once for the three subgraphs
    (factories: Strawberry builds each extension per request).

    The token limit applies while parsing, so an oversized document costs no more than the
    lexing of ``max_tokens`` tokens; depth and aliases are checked before execution.
    """
    limits = limits or SubgraphLimits()
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
    ]


def subgraph_extensions(
    limits: SubgraphLimits | None = None,
) -> list[Callable[[], SchemaExtension]]:
    """Every subgraph's extensions, in order: the guard rails, the parse and validation caches
    (clients send the same few documents over and over, and parsing + validating one costs
    about as much as executing it), and the error codes (the last one sees the result first)."""
    return [
        *guard_extensions(limits),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        ProductionIntrospection,
        ErrorCodes,
    ]
