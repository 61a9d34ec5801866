"""The executor and the response shaping with a fake transport: what subgraph answers or
failures become for the client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import get_operation_ast, parse

from gateway.execution import execute_plan, shape_response
from gateway.execution.fast_shaping import FastShaper
from gateway.planning import build_query_plan
from gateway.supergraph import Supergraph
from gateway.transport import SubgraphRequestError


class FakeSubgraphs:
    """Answers fetches from a table of responses per service; records what was sent."""

    def __init__(self, responses: dict[str, list[dict[str, Any] | Exception]]) -> None:
        self.responses = responses
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def __call__(
        self,
        service: str,
        query: str,
        variables: Mapping[str, Any],
        operation_name: str | None,
    ) -> dict[str, Any]:
        self.sent.append((service, query, dict(variables)))
        answer = self.responses[service].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def run(supergraph: Supergraph, query: str, subgraphs: FakeSubgraphs) -> dict[str, Any]:
    document = parse(query)
    plan = build_query_plan(document, None, supergraph)
    outcome = await execute_plan(plan.node, subgraphs, {})
    return shape_response(supergraph.api_schema, document, None, {}, outcome)


async def test_equal_representations_are_sent_once_and_merged_everywhere(
    fixture_supergraph: Supergraph,
) -> None:
    products = {"__typename": "Product", "upc": "p1"}
    subgraphs = FakeSubgraphs(
        {
            "reviews": [
                {
                    "data": {
                        "topReviews": [
                            {"body": "a", "product": dict(products)},
                            {"body": "b", "product": dict(products)},
                        ]
                    }
                }
            ],
            "products": [{"data": {"_entities": [{"name": "Table"}]}}],
        }
    )
    body = await run(fixture_supergraph, "{ topReviews { body product { name } } }", subgraphs)
    assert body == {
        "data": {
            "topReviews": [
                {"body": "a", "product": {"name": "Table"}},
                {"body": "b", "product": {"name": "Table"}},
            ]
        }
    }
    assert subgraphs.sent[1][2]["representations"] == [products]


async def test_an_error_of_a_shared_representation_is_reported_at_each_position(
    fixture_supergraph: Supergraph,
) -> None:
    product = {"__typename": "Product", "upc": "p1"}
    subgraphs = FakeSubgraphs(
        {
            "reviews": [
                {"data": {"topReviews": [{"product": dict(product)}, {"product": dict(product)}]}}
            ],
            "products": [
                {
                    "data": {"_entities": [{"secretNote": None}]},
                    "errors": [
                        {
                            "message": "no",
                            "path": ["_entities", 0, "secretNote"],
                            "locations": [{"line": 1, "column": 80}],
                            "extensions": {"code": "FORBIDDEN"},
                        }
                    ],
                },
            ],
        }
    )
    body = await run(fixture_supergraph, "{ topReviews { product { secretNote } } }", subgraphs)
    assert body["data"] == {
        "topReviews": [{"product": {"secretNote": None}}, {"product": {"secretNote": None}}]
    }
    assert [(e["path"], e["extensions"]) for e in body["errors"]] == [
        (["topReviews", 0, "product", "secretNote"], {"code": "FORBIDDEN"}),
        (["topReviews", 1, "product", "secretNote"], {"code": "FORBIDDEN"}),
    ]
    # Locations point into the client's document, never into the subgraph's operation.
    assert all(e["locations"] == [{"line": 1, "column": 26}] for e in body["errors"])


async def test_an_unreachable_subgraph_leaves_the_rest_of_the_response(
    fixture_supergraph: Supergraph,
) -> None:
    subgraphs = FakeSubgraphs(
        {
            "reviews": [{"data": {"whoami": "u1"}}],
            "products": [SubgraphRequestError("products", "ConnectError: refused")],
        }
    )
    body = await run(fixture_supergraph, '{ whoami product(upc: "p1") { name } }', subgraphs)
    assert body["data"] == {"whoami": "u1", "product": None}
    # The error stands at the root field the failed fetch was to answer.
    assert body["errors"] == [
        {
            "message": "request to subgraph 'products' failed: ConnectError: refused",
            "locations": [{"line": 1, "column": 10}],
            "path": ["product"],
            "extensions": {"code": "SUBREQUEST_HTTP_ERROR", "service": "products"},
        }
    ]


async def test_a_failed_entity_fetch_nulls_what_it_should_have_provided(
    fixture_supergraph: Supergraph,
) -> None:
    subgraphs = FakeSubgraphs(
        {
            "products": [{"data": {"product": {"__typename": "Product", "upc": "p1"}}}],
            "reviews": [SubgraphRequestError("reviews", "ReadTimeout")],
        }
    )
    body = await run(
        fixture_supergraph, '{ product(upc: "p1") { upc reviews { body } } }', subgraphs
    )
    # reviews is non-null: the product bubbles to null, and the transport error, at the
    # entity it was to complete, explains it (no "Cannot return null" beside it).
    assert body["data"] == {"product": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["product"], "SUBREQUEST_HTTP_ERROR")
    ]


async def test_a_failed_entity_fetch_is_reported_at_each_entity_on_the_hot_path(
    fixture_supergraph: Supergraph,
) -> None:
    # The FastShaper (every request without introspection): the data that did arrive stays,
    # each entity that could not be completed carries the transport error, and no "Cannot
    # return null" error is added beside it.
    query = "{ whoami topReviews { body product { secretNote } } }"
    reviews = [
        {"body": f"r{i}", "product": {"__typename": "Product", "upc": f"p{i}"}} for i in (1, 2)
    ]
    subgraphs = FakeSubgraphs(
        {
            "reviews": [{"data": {"whoami": "u1", "topReviews": reviews}}],
            "products": [SubgraphRequestError("products", "ConnectError: refused")],
        }
    )
    document = parse(query)
    plan = build_query_plan(document, None, fixture_supergraph)
    outcome = await execute_plan(plan.node, subgraphs, {})
    operation = get_operation_ast(document)
    assert operation is not None
    body = FastShaper(fixture_supergraph.api_schema, document, operation).shape(outcome, {})
    assert body["data"] == {
        "whoami": "u1",
        "topReviews": [
            {"body": "r1", "product": {"secretNote": None}},
            {"body": "r2", "product": {"secretNote": None}},
        ],
    }
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["topReviews", 0, "product"], "SUBREQUEST_HTTP_ERROR"),
        (["topReviews", 1, "product"], "SUBREQUEST_HTTP_ERROR"),
    ]


async def test_no_entity_fetch_when_there_is_no_entity(fixture_supergraph: Supergraph) -> None:
    subgraphs = FakeSubgraphs({"products": [{"data": {"product": None}}], "reviews": []})
    body = await run(fixture_supergraph, '{ product(upc: "zz") { reviews { body } } }', subgraphs)
    assert body == {"data": {"product": None}}
    assert [service for service, _, _ in subgraphs.sent] == ["products"]


async def test_a_branch_skipped_by_a_variable_costs_no_fetch(
    fixture_supergraph: Supergraph,
) -> None:
    """Issue 13, class 13: @include/@skip on variables are plan-time conditions."""
    query = """
        query ($with: Boolean!, $skip: Boolean = true) {
          product(upc: "p1") {
            name
            ... @include(if: $with) { reviews { body } }
            ... @skip(if: $skip) { reviews { rating } }
          }
        }
    """
    document = parse(query)
    plan = build_query_plan(document, None, fixture_supergraph)
    product = {"product": {"name": "Table", "__typename": "Product", "upc": "p1"}}
    for variables, services in (
        ({"with": False}, ["products"]),  # $skip defaults to true
        ({"with": True}, ["products", "reviews"]),
        ({"with": False, "skip": False}, ["products", "reviews"]),
    ):
        reviews: dict[str, Any] = {"reviews": [{"body": "ok", "rating": 5}]}
        subgraphs = FakeSubgraphs(
            {
                "products": [{"data": dict(product)}],
                "reviews": [{"data": {"_entities": [reviews]}}],
            }
        )
        await execute_plan(plan.node, subgraphs, variables)
        assert [service for service, _, _ in subgraphs.sent] == services, variables
