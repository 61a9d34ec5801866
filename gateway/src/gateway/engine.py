"""One GraphQL request through the gateway, independent of HTTP: parse, validate against the
API schema, coerce variables, plan (cached), execute the plan, shape the response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values

from gateway.execution import execute_plan, shape_response
from gateway.lru import LRUCache
from gateway.metrics import PLAN_CACHE
from gateway.planning import PlanningError, QueryPlanner, plan_to_data
from gateway.supergraph.model import Supergraph
from gateway.transport.http import SubgraphTransport

log = logging.getLogger(__name__)

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"
PLANNING_FAILED = "QUERY_PLANNING_FAILED"
BAD_REQUEST = "BAD_REQUEST"

OperationKind = Literal["query", "mutation", "subscription"]


class RequestError(Exception):
    """A GraphQL request error: nothing was executed, the response has no ``data``.

    ``well_formed`` is False when the HTTP request itself was malformed (status 400 whatever
    the media type); otherwise graphql-over-http decides by media type.
    """

    def __init__(self, errors: list[dict[str, Any]], *, well_formed: bool = True) -> None:
        super().__init__(errors[0]["message"] if errors else "request error")
        self.errors = errors
        self.well_formed = well_formed


def _error(message: str, code: str, error: GraphQLError | None = None) -> dict[str, Any]:
    formatted: dict[str, Any] = {"message": message}
    if error is not None and error.locations:
        formatted["locations"] = [loc.formatted for loc in error.locations]
    formatted["extensions"] = {"code": code}
    return formatted


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any]
    operation_name: str | None


@dataclass(frozen=True, slots=True)
class PreparedOperation:
    text: str
    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None

    @property
    def kind(self) -> OperationKind:
        return {
            OperationType.QUERY: "query",
            OperationType.MUTATION: "mutation",
            OperationType.SUBSCRIPTION: "subscription",
        }[self.operation.operation]  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class _ParsedDocument:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


class GatewayEngine:
    def __init__(
        self,
        supergraph: Supergraph,
        transport: SubgraphTransport,
        *,
        plan_cache_size: int = 512,
        document_cache_size: int = 512,
    ) -> None:
        self.supergraph = supergraph
        self.transport = transport
        self.planner = QueryPlanner(supergraph, plan_cache_size)
        self._documents: LRUCache[str, _ParsedDocument] = LRUCache(document_cache_size)

    def _parse_and_validate(self, text: str) -> _ParsedDocument:
        parsed = self._documents.get(text)
        if parsed is not None:
            return parsed
        try:
            document = parse(text)
        except GraphQLError as exc:
            parsed = _ParsedDocument(None, (_error(exc.message, PARSE_FAILED, exc),))
        else:
            problems = validate(self.supergraph.api_schema, document, specified_rules)
            parsed = _ParsedDocument(
                None if problems else document,
                tuple(_error(p.message, VALIDATION_FAILED, p) for p in problems),
            )
        self._documents.put(text, parsed)
        return parsed

    def prepare(self, text: str, operation_name: str | None) -> PreparedOperation:
        """Parsed, validated and with its operation chosen, or a ``RequestError``."""
        parsed = self._parse_and_validate(text)
        if parsed.document is None:
            raise RequestError(list(parsed.errors))
        operation = get_operation_ast(parsed.document, operation_name)
        if operation is None:
            message = (
                f"unknown operation named '{operation_name}'"
                if operation_name
                else "the document has several operations: give operationName"
            )
            raise RequestError([_error(message, OPERATION_RESOLUTION_FAILURE)])
        if operation.operation == OperationType.SUBSCRIPTION:
            raise RequestError(
                [_error("subscriptions are not supported by this gateway yet", BAD_REQUEST)]
            )
        return PreparedOperation(text, parsed.document, operation, operation_name)

    def coerce_variables(
        self, prepared: PreparedOperation, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The variables checked against the operation's definitions (defaults applied)."""
        coerced = get_variable_values(
            self.supergraph.api_schema,
            prepared.operation.variable_definitions or (),
            dict(variables),
            max_errors=50,
        )
        if isinstance(coerced, list):
            raise RequestError([_error(e.message, BAD_USER_INPUT, e) for e in coerced])
        return dict(variables)

    async def execute(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
        *,
        explain: bool = False,
    ) -> dict[str, Any]:
        """Run a prepared operation; ``headers`` go to every subgraph request."""
        self.coerce_variables(prepared, variables)
        misses = self.planner.misses
        try:
            plan = self.planner.plan(prepared.document, prepared.text, prepared.operation_name)
        except PlanningError as exc:
            log.warning("query planning failed", extra={"error": str(exc)})
            return {"data": None, "errors": [_error(str(exc), PLANNING_FAILED)]}
        PLAN_CACHE.labels("miss" if self.planner.misses > misses else "hit").inc()

        async def fetch(
            service: str,
            query: str,
            variables: Mapping[str, Any],
            operation_name: str | None,
        ) -> dict[str, Any]:
            return await self.transport.fetch(service, query, variables, operation_name, headers)

        outcome = await execute_plan(plan.node, fetch, variables)
        response = shape_response(
            self.supergraph.api_schema,
            prepared.document,
            prepared.operation_name,
            variables,
            outcome,
        )
        if explain:
            response.setdefault("extensions", {})["queryPlan"] = plan_to_data(plan)
        return response
