"""Retries write once: a mutation repeated with the same ``Idempotency-Key`` and body returns
the first result and writes nothing; the same key with another body is CONFLICT; through the
gateway (which forwards the header) and straight at the subgraphs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from crm_common.outbox import OUTBOX, OUTBOX_PENDING
from devstack import Suite
from support.graphql import data

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREATE_CUSTOMER = """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id name } }"""
CREATE_DEAL = """mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }"""
MOVE = """mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id version } }"""
LOG = """mutation($i: LogInteractionInput!) { logInteraction(input: $i) { id } }"""


async def post(
    url: str, query: str, variables: dict[str, Any], token: str, key: str | None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"}
    if key is not None:
        headers["idempotency-key"] = key
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            url, json={"query": query, "variables": variables}, headers=headers
        )


async def deals_of(
    mongo: AsyncMongoClient[dict[str, Any]], suite: Suite, customer: str
) -> list[Any]:
    cursor = mongo[suite.database("pipeline")].opportunities.find(
        {"customer_id": customer}, {OUTBOX: 0, OUTBOX_PENDING: 0}
    )
    return [doc async for doc in cursor]


@pytest.fixture(scope="session")
async def mongo(suite: Suite) -> Any:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(suite.mongodb_url, tz_aware=True)
    yield client
    await client.close()


@pytest.mark.parametrize("where", ["gateway", "subgraph"])
async def test_a_retried_create_writes_once(
    suite: Suite, token: Any, mongo: AsyncMongoClient[dict[str, Any]], where: str
) -> None:
    admin = token("admin")
    customers_url = suite.gateway_url if where == "gateway" else suite.subgraph_url("customers")
    pipeline_url = suite.gateway_url if where == "gateway" else suite.subgraph_url("pipeline")
    name = f"Idem {uuid.uuid4().hex[:6]}"
    key = str(uuid.uuid4())
    variables = {"i": {"kind": "COMPANY", "name": name}}
    first = await post(customers_url, CREATE_CUSTOMER, variables, admin, key)
    again = await post(customers_url, CREATE_CUSTOMER, variables, admin, key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    if where == "subgraph":  # the gateway answers with its own headers
        assert again.headers.get("idempotent-replayed") == "true"
    customer = first.json()["data"]["createCustomer"]["id"]
    found = await data(
        suite.gateway_url,
        "query($s: String) { customers(filter: {nameContains: $s}) { totalCount } }",
        {"s": name},
        token=admin,
    )
    assert found["customers"]["totalCount"] == 1

    deal = {
        "i": {
            "title": "retried",
            "customerId": customer,
            "amount": {"amount": "7", "currency": "EUR"},
        }
    }
    deal_key = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(post(pipeline_url, CREATE_DEAL, deal, admin, deal_key) for _ in range(3))
    )
    created = [a.json() for a in answers]
    ids = {c["data"]["createOpportunity"]["id"] for c in created if c.get("data")}
    assert len(ids) == 1, created  # the others: the same answer, or CONFLICT (in progress)
    replay = await post(pipeline_url, CREATE_DEAL, deal, admin, deal_key)
    assert replay.json()["data"]["createOpportunity"]["id"] in ids
    assert len(await deals_of(mongo, suite, customer)) == 1

    # The same key with another body: CONFLICT, nothing written.
    other = {"i": {**deal["i"], "title": "another"}}
    refused = await post(pipeline_url, CREATE_DEAL, other, admin, deal_key)
    assert refused.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert len(await deals_of(mongo, suite, customer)) == 1

    # A retried move writes one version.
    deal_id = next(iter(ids))
    move_key = str(uuid.uuid4())
    move = {"id": deal_id, "s": "default-proposal"}
    for _ in range(3):
        moved = await post(pipeline_url, MOVE, move, admin, move_key)
        assert moved.json()["data"]["moveOpportunity"]["version"] == 2
    # Without a key, nothing changes: each request runs.
    plain = await post(pipeline_url, MOVE, {**move, "s": "default-negotiation"}, admin, None)
    assert plain.json()["data"]["moveOpportunity"]["version"] == 3


async def test_a_bad_key_is_400(suite: Suite, token: Any) -> None:
    response = await post(
        suite.subgraph_url("customers"),
        CREATE_CUSTOMER,
        {"i": {"kind": "COMPANY", "name": "x"}},
        token("admin"),
        "k" * 300,
    )
    assert response.status_code == 400
