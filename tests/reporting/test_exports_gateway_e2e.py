"""Exports through the gateway: ``GET /export/customers.csv`` and ``/export/opportunities.csv``
answer on the gateway with the caller's visibility, byte for byte what the subgraph answers."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx

from devstack import Suite
from support.graphql import data
from support.polling import eventually


def _root(graphql_url: str) -> str:
    return graphql_url.removesuffix("/graphql")


async def _get(url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.get(url, headers=headers)


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


async def test_exports_through_the_gateway_equal_the_subgraphs(suite: Suite, token: Any) -> None:
    team = f"exp-{uuid.uuid4().hex[:6]}"
    owner = token("rep", user_id=f"rep-{team}", team=team)
    customer = (
        await data(
            suite.gateway_url,
            "mutation($i: CreateCustomerInput!){ createCustomer(input: $i){ id } }",
            {"i": {"kind": "PERSON", "name": f"Export {team}", "source": {"campaign": team}}},
            token=owner,
        )
    )["createCustomer"]["id"]

    async def create() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                suite.gateway_url,
                json={
                    "query": "mutation($i: CreateOpportunityInput!){ createOpportunity(input: $i)"
                    "{ id } }",
                    "variables": {
                        "i": {
                            "title": f"export {team}",
                            "customerId": customer,
                            "amount": {"amount": "12.5", "currency": "EUR"},
                        }
                    },
                },
                headers={"Authorization": f"Bearer {owner}"},
            )
        body: dict[str, Any] = response.json()
        return body

    created = await eventually(create, lambda b: not b.get("errors"), what="deal created")
    opportunity = created["data"]["createOpportunity"]["id"]
    gateway = _root(suite.gateway_url)
    for path, subgraph, wanted in (
        ("/export/opportunities.csv", "pipeline", opportunity),
        ("/export/customers.csv", "customers", customer),
    ):
        via_gateway = await _get(gateway + path, owner)
        direct = await _get(_root(suite.subgraph_url(subgraph)) + path, owner)
        assert via_gateway.status_code == 200, via_gateway.text
        assert via_gateway.headers["content-type"].startswith("text/csv")
        assert via_gateway.content == direct.content
        assert wanted in [row["id"] for row in _rows(via_gateway.content)]
        # The caller's visibility: another rep sees none of these rows; no token is 401.
        other = await _get(gateway + path, token("rep", user_id="rep-elsewhere", team="x"))
        assert wanted not in [row["id"] for row in _rows(other.content)]
        assert (await _get(gateway + path, None)).status_code == 401
    [row] = [
        r
        for r in _rows((await _get(gateway + "/export/opportunities.csv", owner)).content)
        if r["id"] == opportunity
    ]
    assert row["amount"] == "12.50"
    assert row["stageName"] == "Initial contact"
    assert row["sourceCampaign"] == team
