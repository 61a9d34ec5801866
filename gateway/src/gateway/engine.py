"""One GraphQL request through the gateway, independent of HTTP: parse, validate against the
API schema, coerce variables, plan (cached), execute the plan, shape the response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import NoSchemaIntrospectionCustomRule

from crm_common.errors import is_input_value_problem
from gateway.execution import ExecutionOutcome, PlanExecutor, execute_plan, shape_response
from gateway.execution.errors import root_fetch_error
from gateway.execution.fast_shaping import FastShaper, needs_graphql_core
from gateway.limits import (
    LimitExceeded,
    OperationLimits,
    check_cost,
    check_shape,
    parse_limited,
)
from gateway.lru import LRUCache
from gateway.metrics import PLAN_CACHE, bound
from gateway.planning import (
    Fetch,
    PlanningError,
    PlanNode,
    QueryPlanner,
    Sequence,
    plan_to_data,
)
from gateway.supergraph.model import Supergraph
from gateway.transport.http import SubgraphTransport
from gateway.transport.websocket import subscribe

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
    # A guard rail refused it: HTTP 400 whatever the media type.
    refused: bool = False
    # Variables given as page sizes: the cost depends on their values (checked per values).
    page_size_variables: frozenset[str] = frozenset()


class GatewayEngine:
    def __init__(
        self,
        supergraph: Supergraph,
        transport: SubgraphTransport,
        *,
        plan_cache_size: int = 512,
        document_cache_size: int = 512,
        limits: OperationLimits | None = None,
        introspection: bool = True,
    ) -> None:
        self.supergraph = supergraph
        self.transport = transport
        self.limits = limits or OperationLimits()
        # Without introspection (production), __schema and __type fail validation;
        # __typename stays.
        self._rules = (
            specified_rules
            if introspection
            else (*specified_rules, NoSchemaIntrospectionCustomRule)
        )
        # (text, operation name, page-size variables' values) whose cost is within the limit:
        # a repeated operation is costed once, also when its page sizes are variables.
        self._costed: LRUCache[tuple[str, str | None, tuple[Any, ...]], bool] = LRUCache(
            document_cache_size
        )
        self.planner = QueryPlanner(supergraph, plan_cache_size)
        self._documents: LRUCache[str, _ParsedDocument] = LRUCache(document_cache_size)
        # None: the operation needs graphql-core's shaping (introspection).
        self._shapers: LRUCache[tuple[str, str | None], tuple[FastShaper | None]] = LRUCache(
            document_cache_size
        )

    def _parse_and_validate(self, text: str) -> _ParsedDocument:
        parsed = self._documents.get(text)
        if parsed is not None:
            return parsed
        try:
            document = parse_limited(text, self.limits)
            shape = check_shape(document, self.limits)
        except LimitExceeded as exc:
            parsed = _ParsedDocument(None, (_error(exc.message, exc.code),), refused=True)
        except GraphQLError as exc:
            parsed = _ParsedDocument(None, (_error(exc.message, PARSE_FAILED, exc),))
        else:
            problems = validate(self.supergraph.api_schema, document, self._rules)
            parsed = _ParsedDocument(
                None if problems else document,
                tuple(
                    _error(
                        p.message,
                        BAD_USER_INPUT if is_input_value_problem(p.message) else VALIDATION_FAILED,
                        p,
                    )
                    for p in problems
                ),
                page_size_variables=shape.page_size_variables if shape else frozenset(),
            )
        self._documents.put(text, parsed)
        return parsed

    def prepare(
        self,
        text: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None = None,
    ) -> PreparedOperation:
        """Parsed, validated, within the limits and with its operation chosen, or a
        ``RequestError``. ``variables`` count for the cost when page sizes are variables."""
        parsed = self._parse_and_validate(text)
        if parsed.document is None:
            raise RequestError(list(parsed.errors), well_formed=not parsed.refused)
        operation = get_operation_ast(parsed.document, operation_name)
        if operation is None:
            message = (
                f"unknown operation named '{operation_name}'"
                if operation_name
                else "the document has several operations: give operationName"
            )
            raise RequestError([_error(message, OPERATION_RESOLUTION_FAILURE)])
        self._check_cost(parsed, text, operation, operation_name, variables or {})
        return PreparedOperation(text, parsed.document, operation, operation_name)

    def _check_cost(
        self,
        parsed: _ParsedDocument,
        text: str,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> None:
        page_sizes = tuple(repr(variables.get(name)) for name in sorted(parsed.page_size_variables))
        key = (text, operation_name, page_sizes)
        if self._costed.get(key):
            return
        assert parsed.document is not None
        try:
            check_cost(
                self.supergraph.api_schema, parsed.document, operation, dict(variables), self.limits
            )
        except LimitExceeded as exc:
            raise RequestError([_error(exc.message, exc.code)], well_formed=False) from exc
        self._costed.put(key, True)

    def _shaper(self, prepared: PreparedOperation) -> FastShaper | None:
        key = (prepared.text, prepared.operation_name)
        cached = self._shapers.get(key)
        if cached is None:
            cached = (
                None
                if needs_graphql_core(prepared.document)
                else FastShaper(self.supergraph.api_schema, prepared.document, prepared.operation),
            )
            self._shapers.put(key, cached)
        return cached[0]

    def coerce_variables(
        self, prepared: PreparedOperation, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The variables checked against the operation's definitions, defaults applied."""
        coerced = get_variable_values(
            self.supergraph.api_schema,
            prepared.operation.variable_definitions or (),
            dict(variables),
            max_errors=50,
        )
        if isinstance(coerced, list):
            raise RequestError([_error(e.message, BAD_USER_INPUT, e) for e in coerced])
        return coerced.coerced

    async def execute(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
        *,
        explain: bool = False,
    ) -> dict[str, Any]:
        """Run a prepared operation; ``headers`` go to every subgraph request."""
        coerced = (
            self.coerce_variables(prepared, variables)
            if prepared.operation.variable_definitions
            else {}
        )
        misses = self.planner.misses
        try:
            plan = self.planner.plan(
                prepared.document,
                prepared.text,
                prepared.operation_name,
                self.planner.roll_labels(),
            )
        except PlanningError as exc:
            log.warning("query planning failed", extra={"error": str(exc)})
            return {"data": None, "errors": [_error(str(exc), PLANNING_FAILED)]}
        bound(PLAN_CACHE, "miss" if self.planner.misses > misses else "hit").inc()

        async def fetch(
            service: str,
            query: str,
            variables: Mapping[str, Any],
            operation_name: str | None,
        ) -> dict[str, Any]:
            return await self.transport.fetch(service, query, variables, operation_name, headers)

        outcome = await execute_plan(plan.node, fetch, variables)
        shaper = self._shaper(prepared)
        if shaper is not None:
            response = shaper.shape(outcome, coerced)
        else:
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

    async def subscribe(
        self,
        prepared: PreparedOperation,
        variables: Mapping[str, Any],
        init_payload: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> AsyncIterator[dict[str, Any]]:
        """The responses of a subscription: its root field is subscribed to on the owning
        subgraph over graphql-transport-ws (with the client's ``connection_init`` payload);
        each event then runs the rest of the plan (entity joins) and is shaped.

        Raises ``RequestError`` before the first event when it cannot be planned;
        ``SubgraphSubscriptionError`` / ``SubgraphRequestError`` from the subgraph.
        """
        self.coerce_variables(prepared, variables)
        try:
            plan = self.planner.plan(
                prepared.document,
                prepared.text,
                prepared.operation_name,
                self.planner.roll_labels(),
            )
        except PlanningError as exc:
            raise RequestError([_error(str(exc), PLANNING_FAILED)]) from exc
        node = plan.node
        rest: tuple[PlanNode, ...] = ()
        if isinstance(plan.node, Sequence):
            node, rest = plan.node.nodes[0], plan.node.nodes[1:]
        if not isinstance(node, Fetch):
            raise RequestError(
                [_error("a subscription needs one subgraph root field", BAD_REQUEST)]
            )
        used = {n: variables[n] for n in node.variable_usages if n in variables}

        async def fetch(
            service: str, query: str, variables: Mapping[str, Any], operation_name: str | None
        ) -> dict[str, Any]:
            return await self.transport.fetch(service, query, variables, operation_name, headers)

        events = subscribe(
            node.service,
            self.transport.url_for(node.service),
            node.operation_text,
            used,
            node.operation_name,
            init_payload,
        )
        try:
            async for event in events:
                data = event.get("data")
                outcome = ExecutionOutcome(
                    data=data if isinstance(data, dict) else {},
                    errors=[root_fetch_error(e) for e in event.get("errors") or ()],
                )
                if data is None:
                    yield {"data": None, "errors": outcome.errors or [{"message": "no data"}]}
                    continue
                executor = PlanExecutor(fetch, variables, outcome)
                for step in rest:
                    await executor.run(step)
                yield shape_response(
                    self.supergraph.api_schema,
                    prepared.document,
                    prepared.operation_name,
                    variables,
                    outcome,
                )
        finally:
            await events.aclose()  # type: ignore[attr-defined]
