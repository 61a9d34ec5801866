"""Strawberry glue shared by the three subgraphs: error codes on the wire.

A ``CrmError`` raised anywhere below a resolver becomes a GraphQL error whose
``extensions.code`` is the error's code (API.md); anything else is an internal error whose
message is not leaked to clients.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

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
