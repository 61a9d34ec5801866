"""The foundation's promises, proven through the real processes of the suite: gateway,
three subgraphs, the analytics worker, RabbitMQ and MongoDB-compatible storage."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from devstack import Suite
from support.graphql import data, error_codes, gql, post
from support.polling import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id name } }"""
CREATE_DEAL = """
mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { id version stage { id name } status }
}"""
MOVE = """
mutation($id: ID!, $stageId: ID!) {
  moveOpportunity(id: $id, stageId: $stageId) { id version stage { name } status }
}"""
FUNNEL = """
query($owner: ID) {
  funnel(pipelineId: "default", ownerId: $owner) {
    won lost steps { stageName entered advanced conversionRate cumulativeRate }
  }
}"""


def stage_id(name: str) -> str:
    return "default-" + re.sub(r"[^a-z]+", "-", name.lower()).strip("-")


async def new_customer(suite: Suite, token: str, name: str, owner: str) -> str:
    result = await data(
        suite.gateway_url,
        CREATE_CUSTOMER,
        {"input": {"kind": "COMPANY", "name": name, "ownerId": owner}},
        token=token,
    )
    return str(result["createCustomer"]["id"])


async def new_deal(suite: Suite, token: str, customer_id: str, owner: str, title: str) -> str:
    result = await data(
        suite.gateway_url,
        CREATE_DEAL,
        {
            "input": {
                "title": title,
                "customerId": customer_id,
                "amount": {"amount": "1000.00", "currency": "EUR"},
                "ownerId": owner,
            }
        },
        token=token,
    )
    return str(result["createOpportunity"]["id"])


async def funnel_steps(suite: Suite, token: str, owner: str) -> dict[str, dict[str, Any]]:
    result = await data(suite.gateway_url, FUNNEL, {"owner": owner}, token=token)
    return {step["stageName"]: step for step in result["funnel"]["steps"]}


async def test_customer_and_deals_join_through_the_gateway(suite: Suite, token: Any) -> None:
    admin = token("admin")
    owner = f"rep-{uuid.uuid4().hex[:8]}"
    customer_id = await new_customer(suite, admin, "Initech Ltd", owner)
    first = await new_deal(suite, admin, customer_id, owner, "Initech: TPS reports")
    second = await new_deal(suite, admin, customer_id, owner, "Initech: printers")
    for stage in ("Needs analysis", "Proposal", "Negotiation"):
        await data(suite.gateway_url, MOVE, {"id": first, "stageId": stage_id(stage)}, token=admin)

    customer = await data(
        suite.gateway_url,
        """query($id: ID!) { customer(id: $id) {
             id name opportunities { id title stage { name } status } } }""",
        {"id": customer_id},
        token=admin,
    )
    deals = {d["id"]: d for d in customer["customer"]["opportunities"]}
    assert customer["customer"]["name"] == "Initech Ltd"
    assert set(deals) == {first, second}
    assert deals[first]["stage"]["name"] == "Negotiation"
    assert deals[second]["stage"]["name"] == "Initial contact"
    assert {d["status"] for d in deals.values()} == {"OPEN"}

    opportunity = await data(
        suite.gateway_url,
        """query($id: ID!) { opportunity(id: $id) {
             title pipeline { name } stage { name } status customer { id name } } }""",
        {"id": first},
        token=admin,
    )
    assert opportunity["opportunity"]["customer"] == {"id": customer_id, "name": "Initech Ltd"}
    assert opportunity["opportunity"]["stage"]["name"] == "Negotiation"

    # The funnel is fed asynchronously by the worker: poll until the moves have arrived.
    steps = await eventually(
        lambda: funnel_steps(suite, admin, owner),
        lambda s: s.get("Negotiation", {}).get("entered") == 1,
    )
    assert steps["Initial contact"]["entered"] == 2
    assert steps["Initial contact"]["advanced"] == 1
    assert steps["Initial contact"]["conversionRate"] == pytest.approx(0.5)
    assert steps["Needs analysis"]["entered"] == 1
    assert steps["Proposal"]["entered"] == 1
    assert steps["Negotiation"]["cumulativeRate"] == pytest.approx(0.5)


async def test_without_a_token_the_gateway_answers_401(suite: Suite) -> None:
    response = await post(suite.gateway_url, "{ pipelines { id } }")
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    forged = await post(suite.gateway_url, "{ pipelines { id } }", token="not.a.jwt")
    assert forged.status_code == 401


@pytest.mark.parametrize("subgraph", ["customers", "pipeline", "analytics"])
async def test_a_subgraph_called_directly_without_identity_refuses(
    suite: Suite, subgraph: str
) -> None:
    response = await post(suite.subgraph_url(subgraph), "{ _service { sdl } }")
    assert response.status_code == 401


def pipeline_db(suite: Suite) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(suite.mongodb_url)
    return client, client[f"pipeline{suite.database_suffix}"]


async def test_a_killed_pipeline_still_delivers_the_move_exactly_once(
    suite: Suite, token: Any
) -> None:
    admin = token("admin")
    owner = f"rep-{uuid.uuid4().hex[:8]}"
    customer_id = await new_customer(suite, admin, "Kill Test Co", owner)
    deal = await new_deal(suite, admin, customer_id, owner, "survives a crash")
    await eventually(
        lambda: funnel_steps(suite, admin, owner),
        lambda s: s.get("Initial contact", {}).get("entered") == 1,
    )

    # 1. Relay off: the move is accepted, its event waits in the outbox, then the process dies.
    suite.stop("pipeline")
    suite.start("pipeline", env={"PIPELINE_RELAY_ENABLED": "false"})
    try:
        await data(
            suite.gateway_url, MOVE, {"id": deal, "stageId": stage_id("Proposal")}, token=admin
        )
        client, db = pipeline_db(suite)
        with client:
            pending = db.opportunities.find_one({"_id": deal})
            assert pending is not None
            assert [e["type"] for e in pending.get("outbox", [])] == [
                "pipeline.opportunity.stage_changed"
            ]
    finally:
        suite.kill("pipeline")
    await asyncio.sleep(1)
    steps = await funnel_steps(suite, admin, owner)
    assert steps["Proposal"]["entered"] == 0, "the event must not have left before the crash"

    # 2. Restarted with its relay, the service publishes what the crash left behind.
    suite.start("pipeline")
    await eventually(
        lambda: funnel_steps(suite, admin, owner), lambda s: s["Proposal"]["entered"] == 1
    )

    # 3. Relay on, SIGKILL right after the move: published or still pending, never lost.
    await data(
        suite.gateway_url, MOVE, {"id": deal, "stageId": stage_id("Negotiation")}, token=admin
    )
    suite.kill("pipeline")
    suite.start("pipeline")
    steps = await eventually(
        lambda: funnel_steps(suite, admin, owner), lambda s: s["Negotiation"]["entered"] == 1
    )
    await asyncio.sleep(1.5)  # a duplicate delivery, if any, would have landed by now
    steps = await funnel_steps(suite, admin, owner)
    assert steps["Proposal"]["entered"] == 1
    assert steps["Negotiation"]["entered"] == 1
    client = MongoClient(suite.mongodb_url)
    with client:
        analytics = client[f"analytics{suite.database_suffix}"]
        stored = analytics.events.count_documents(
            {"subject": deal, "type": "pipeline.opportunity.stage_changed"}
        )
    assert stored == 2, "each accepted move is stored exactly once in the event store"


def mongo_finds(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("crm_mongo_commands_total{") and 'command="find"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_entities_with_200_representations_cost_one_mongodb_query(
    suite: Suite, token: Any
) -> None:
    admin = token("admin")
    ids = [await new_customer(suite, admin, f"Batch {n}", "rep-batch") for n in range(20)]
    # 200 representations: 20 distinct customers, each asked for ten times, plus one unknown.
    representations = [{"__typename": "Customer", "id": ids[n % 20]} for n in range(199)]
    representations.append({"__typename": "Customer", "id": "no-such-customer"})
    metrics_url = f"http://127.0.0.1:{suite.ports['customers']}/metrics"
    # The service's background sweeps (outbox relay, audit mover, operation recovery) also
    # send finds and may land inside the measured window; they can only add to the count.
    # The request's own cost is deterministic, so the smallest of a few measurements is it.
    finds_per_request = []
    async with httpx.AsyncClient() as client:
        for _attempt in range(3):
            before = mongo_finds((await client.get(metrics_url)).text)
            body = await gql(
                suite.subgraph_url("customers"),
                "query($r: [_Any!]!) {"
                " _entities(representations: $r) { ... on Customer { id name } } }",
                {"r": representations},
                token=admin,
            )
            after = mongo_finds((await client.get(metrics_url)).text)
            finds_per_request.append(after - before)
            entities = body["data"]["_entities"]
            assert len(entities) == 200
            assert entities[0] == {"id": ids[0], "name": "Batch 0"}
            assert entities[21]["id"] == ids[1]
            assert entities[199] is None
    assert min(finds_per_request) == 1, finds_per_request


async def test_bad_input_is_refused_with_a_code_and_nothing_is_written(
    suite: Suite, token: Any
) -> None:
    admin = token("admin")
    owner = f"rep-{uuid.uuid4().hex[:8]}"
    customer_id = await new_customer(suite, admin, "Careful Corp", owner)
    client, db = pipeline_db(suite)
    with client:
        before = db.opportunities.count_documents({})
        cases = {
            "missing customer": ({"customerId": "no-such-customer"}, {"NOT_FOUND"}),
            "negative amount": (
                {"amount": {"amount": "-5.00", "currency": "EUR"}},
                {"BAD_USER_INPUT"},
            ),
            "unknown stage": ({"stageId": "no-such-stage"}, {"BAD_USER_INPUT", "NOT_FOUND"}),
            "unknown currency": (
                {"amount": {"amount": "5.00", "currency": "XYZ"}},
                {"BAD_USER_INPUT"},
            ),
        }
        for case, (override, codes) in cases.items():
            payload = {
                "title": "should not exist",
                "customerId": customer_id,
                "amount": {"amount": "100.00", "currency": "EUR"},
                "ownerId": owner,
                **override,
            }
            body = await gql(suite.gateway_url, CREATE_DEAL, {"input": payload}, token=admin)
            assert body.get("data") is None, case
            assert set(error_codes(body)) <= codes, (case, body["errors"])
            assert error_codes(body), case
            assert body["errors"][0]["path"] == ["createOpportunity"], case
        assert db.opportunities.count_documents({}) == before
    steps = await funnel_steps(suite, admin, owner)
    assert all(step["entered"] == 0 for step in steps.values()), "no event may have left"
