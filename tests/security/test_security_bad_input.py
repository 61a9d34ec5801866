"""Bad input never becomes a 500: impossible dates and ranges, out-of-range days, wrong variable
types sent straight to a subgraph, a search of only punctuation and bodies that are JSON but
not an object all answer BAD_USER_INPUT (or 400 BAD_REQUEST), never INTERNAL_SERVER_ERROR,
through the gateway and straight at the subgraphs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack import Suite
from support.graphql import error_codes, gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

FORECAST = """{ forecast(pipelineId: "default", periodStart: "%s", periodEnd: "%s") { deals } }"""
IDLE = """{ idleDeals(pipelineId: "default", days: %d) { opportunityId } }"""
CREATE_DEAL = """mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }"""

# (subgraphs that answer it: "gateway" or a subgraph name, the document, its variables)
CASES: list[tuple[tuple[str, ...], str, dict[str, Any] | None]] = [
    (("gateway", "analytics"), FORECAST % ("2024-02-30", "2024-03-31"), None),
    (("gateway", "analytics"), FORECAST % ("9999-99-99", "2024-03-31"), None),
    (("gateway", "analytics"), FORECAST % ("2024-05-01", "2024-03-31"), None),
    (("gateway", "analytics"), IDLE % 2147483647, None),
    (("gateway", "analytics"), IDLE % -5, None),
    (
        ("gateway", "analytics"),
        '{ funnel(pipelineId: "default", from: "2024-02-30T00:00:00Z") { won } }',
        None,
    ),
    (
        ("analytics",),
        'query($d: Int) { idleDeals(pipelineId: "default", days: $d) { opportunityId } }',
        {"d": "x"},
    ),
    (
        ("analytics",),
        'query($d: Date!) { forecast(pipelineId: "default", periodStart: $d, '
        'periodEnd: "2024-03-31") { deals } }',
        {"d": 5},
    ),
    (("gateway", "customers"), '{ customers(filter: {search: ".*"}) { totalCount } }', None),
    (("gateway", "customers"), '{ customers(filter: {search: "((("}) { totalCount } }', None),
    (("customers",), "query($f: Int) { customers(first: $f) { totalCount } }", {"f": "abc"}),
    (("customers",), "query($f: Int) { customers(first: $f) { totalCount } }", {"f": 10**11}),
    (
        ("customers",),
        "query($t: DateTime) { customers(filter: {createdFrom: $t}) { totalCount } }",
        {"t": "9999-99-99T00:00:00Z"},
    ),
    (("pipeline",), "query($f: Int) { opportunities(first: $f) { totalCount } }", {"f": "abc"}),
    (
        ("gateway", "pipeline"),
        CREATE_DEAL,
        {
            "i": {
                "title": "x",
                "customerId": "c-1",
                "amount": {"amount": "1", "currency": "EUR"},
                "expectedCloseDate": "2024-02-30",
            }
        },
    ),
]


def url_of(suite: Suite, where: str) -> str:
    return suite.gateway_url if where == "gateway" else suite.subgraph_url(where)


@pytest.mark.parametrize(("where", "query", "variables"), CASES)
async def test_bad_values_are_bad_user_input(
    suite: Suite,
    token: Any,
    where: tuple[str, ...],
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    for target in where:
        body = await gql(url_of(suite, target), query, variables, token=token("admin"))
        codes = error_codes(body)
        assert "INTERNAL_SERVER_ERROR" not in codes, (target, body)
        assert codes[:1] == ["BAD_USER_INPUT"], (target, body)


@pytest.mark.parametrize(
    "raw",
    [
        b"null",
        b'"a string"',
        b"[]",
        b"7",
        b"{",
        b'{"query": 5}',
        b'{"query": "{ a }", "variables": "x"}',
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_400(
    suite: Suite, token: Any, raw: bytes
) -> None:
    headers = {"authorization": f"Bearer {token('admin')}", "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as client:
        for target in ("gateway", "customers", "pipeline", "analytics"):
            response = await client.post(url_of(suite, target), content=raw, headers=headers)
            assert response.status_code == 400, (target, response.text)
