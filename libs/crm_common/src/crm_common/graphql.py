"""Strawberry glue shared by the three subgraphs: error codes on the wire, and the limits
every subgraph puts on the documents it runs.

A ``CrmError`` raised anywhere below a resolver becomes a GraphQL error whose
``extensions.code`` is the error's code (API.md); anything else is an internal error whose
message is not leaked to clients.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from crm_common.errors import CrmError

log = logging.getLogger(__name__)


def _with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, CrmError):
        extensions["code"] = original.code
        if original.details:
            extensions.update(original.details)
        message = original.message
    elif original is None:
        # Validation and parse errors: the client's document is at fault.
        extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
        message = error.message
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
