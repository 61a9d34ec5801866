"""The pipeline service as a real process: GraphQL in, MongoDB writes, events out."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
from aio_pika.abc import AbstractRobustConnection
from pipeline_testkit import (
    Contracts,
    EventTap,
    GraphQLClient,
    PipelineApi,
    RunConfig,
    publish_customer_created,
)
from pymongo.asynchronous.database import AsyncDatabase

from crm_common.amqp import EventPublisher
from crm_common.events import new_event

CREATE = """
mutation Create($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) {
    id title ownerId status position version expectedCloseDate
    amount { amount currency }
    customer { id }
    pipeline { id }
    stage { id name kind }
    stageHistory { fromStageId toStageId actorId ownerId amount { amount currency } }
  }
}
"""

MOVE = """
mutation Move($id: ID!, $stageId: ID!, $beforeId: ID, $afterId: ID, $expectedVersion: Int) {
  moveOpportunity(id: $id, stageId: $stageId, beforeId: $beforeId, afterId: $afterId,
                  expectedVersion: $expectedVersion) {
    id status version position stage { id kind }
    stageHistory { fromStageId toStageId fromStage { name } toStage { name } }
  }
}
"""

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

DEFAULT_STAGES = [
    ("default-initial-contact", "Initial contact", 0.1, "OPEN"),
    ("default-needs-analysis", "Needs analysis", 0.25, "OPEN"),
    ("default-proposal", "Proposal", 0.5, "OPEN"),
    ("default-negotiation", "Negotiation", 0.75, "OPEN"),
    ("default-won", "Won", 1.0, "WON"),
    ("default-lost", "Lost", 0.0, "LOST"),
]


async def known_customer(
    amqp: AbstractRobustConnection,
    db: AsyncDatabase[dict[str, Any]],
    *,
    owner_id: str = "rep-1",
    team: str | None = "team-1",
) -> str:
    """A customer the pipeline has heard of (its created event was consumed): by default
    ``rep-1``'s, of ``team-1`` (so that the fixtures' rep, manager and admin all see it)."""
    customer_id = await publish_customer_created(amqp, owner_id=owner_id, team=team)
    for _ in range(200):
        if await db.known_customers.find_one({"_id": customer_id}):
            return customer_id
        await asyncio.sleep(0.02)
    raise AssertionError("customers.customer.created was not consumed")


def opportunity_input(customer_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": f"Deal {uuid.uuid4().hex[:6]}",
        "customerId": customer_id,
        "amount": {"amount": "1200", "currency": "EUR"},
    }
    values.update(overrides)
    return values


async def create(gql: GraphQLClient, customer_id: str, **overrides: Any) -> dict[str, Any]:
    data = await gql.data(CREATE, {"input": opportunity_input(customer_id, **overrides)})
    created: dict[str, Any] = data["createOpportunity"]
    return created


async def wait_outbox_empty(db: AsyncDatabase[dict[str, Any]], within: float = 10) -> None:
    for _ in range(int(within / 0.05)):
        if await db.opportunities.count_documents({"outbox_pending": True}) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox not drained")


async def test_health_and_metrics(pipeline_api: PipelineApi) -> None:
    async with httpx.AsyncClient() as client:
        ready = await client.get(f"{pipeline_api.url}/health/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"mongo": "ok", "amqp": "ok"}
        live = await client.get(f"{pipeline_api.url}/health/live")
        assert live.status_code == 200
        metrics = await client.get(f"{pipeline_api.url}/metrics")
        assert metrics.status_code == 200
        assert "crm_mongo_commands_total" in metrics.text


async def test_graphql_without_valid_token_is_401(pipeline_api: PipelineApi) -> None:
    anonymous = GraphQLClient(pipeline_api.url, token=None)
    response = await anonymous.raw("{ pipelines { id } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await anonymous.raw(
        "{ pipelines { id } }",
        token=RunConfig().token("rep-1"),  # signed with another secret
    )
    assert forged.status_code == 401


async def test_default_pipeline_is_served(gql: GraphQLClient) -> None:
    data = await gql.data(
        "{ pipelines { id name stages { id name order probability kind rottingDays } } }"
    )
    default = data["pipelines"][0]
    assert default["id"] == "default"
    assert default["name"] == "Sales pipeline"
    stages = [(s["id"], s["name"], s["probability"], s["kind"]) for s in default["stages"]]
    assert stages == DEFAULT_STAGES
    orders = [s["order"] for s in default["stages"]]
    assert orders == sorted(orders)


async def test_create_and_move_publish_contract_valid_events(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    traced = GraphQLClient(gql.url, gql.token, headers={"traceparent": TRACEPARENT})
    created = await create(traced, customer_id, title="Big deal", expectedCloseDate="2026-12-31")
    assert created["amount"] == {"amount": "1200.00", "currency": "EUR"}
    assert created["ownerId"] == "rep-1"  # the caller
    assert created["customer"] == {"id": customer_id}
    assert created["pipeline"] == {"id": "default"}
    assert created["stage"]["id"] == "default-initial-contact"
    assert (created["status"], created["version"]) == ("OPEN", 1)
    assert created["expectedCloseDate"] == "2026-12-31"
    assert created["stageHistory"] == [
        {
            "fromStageId": None,
            "toStageId": "default-initial-contact",
            "actorId": "rep-1",
            "ownerId": "rep-1",
            "amount": {"amount": "1200.00", "currency": "EUR"},
        }
    ]
    opportunity_id = created["id"]

    [created_event] = await tap.wait_for(opportunity_id, "pipeline.opportunity.created")
    contracts.validate(created_event)
    assert created_event["source"] == "crm/pipeline"
    assert created_event["sequence"] == 1
    assert created_event["actorid"] == "rep-1"
    assert created_event["data"]["fromStage"] is None
    assert created_event["data"]["toStage"]["id"] == "default-initial-contact"
    assert created_event["traceparent"] == TRACEPARENT

    moved = (
        await gql.data(
            MOVE, {"id": opportunity_id, "stageId": "default-proposal", "expectedVersion": 1}
        )
    )["moveOpportunity"]
    assert (moved["version"], moved["status"], moved["stage"]["id"]) == (
        2,
        "OPEN",
        "default-proposal",
    )
    assert [h["toStage"]["name"] for h in moved["stageHistory"]] == ["Initial contact", "Proposal"]

    [event] = await tap.wait_for(opportunity_id, "pipeline.opportunity.stage_changed")
    contracts.validate(event)
    assert event["subject"] == opportunity_id
    assert event["sequence"] == 2
    assert event["actorid"] == "rep-1"
    assert "traceparent" not in event  # that request carried none
    data = event["data"]
    assert data["opportunityId"] == opportunity_id
    assert data["customerId"] == customer_id
    assert data["pipelineId"] == "default"
    assert data["ownerId"] == "rep-1"
    assert data["title"] == "Big deal"
    assert data["amount"] == {"amount": "1200.00", "currency": "EUR"}
    assert data["status"] == "OPEN"
    assert data["fromStage"]["id"] == "default-initial-contact"
    assert data["toStage"] == {
        "id": "default-proposal",
        "name": "Proposal",
        "order": 3,
        "kind": "OPEN",
        "probability": 0.5,
        "rottingDays": 21,  # stage settings travel with the events (analytics' idle deals)
    }
    assert [s["id"] for s in data["stages"]] == [s[0] for s in DEFAULT_STAGES]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["changedAt"])

    # The outbox is drained once the broker confirmed.
    await wait_outbox_empty(db)
    doc = await db.opportunities.find_one({"_id": opportunity_id})
    assert doc is not None
    assert doc["outbox"] == []
    assert "outbox_pending" not in doc


async def test_moving_into_won_closes_the_deal(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    opportunity = await create(gql, customer_id)
    won = (await gql.data(MOVE, {"id": opportunity["id"], "stageId": "default-won"}))[
        "moveOpportunity"
    ]
    assert (won["status"], won["version"]) == ("WON", 2)
    [event] = await tap.wait_for(opportunity["id"], "pipeline.opportunity.stage_changed")
    contracts.validate(event)
    assert event["data"]["status"] == "WON"
    assert event["data"]["toStage"]["kind"] == "WON"

    # A closed deal cannot be moved; nothing is written.
    code = await gql.error_code(MOVE, {"id": opportunity["id"], "stageId": "default-proposal"})
    assert code == "BAD_USER_INPUT"
    again = await gql.data(
        "query($id: ID!) { opportunity(id: $id) { version status } }", {"id": opportunity["id"]}
    )
    assert again["opportunity"] == {"version": 2, "status": "WON"}


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    opportunity_id = (await create(gql, customer_id))["id"]
    await gql.data(
        MOVE, {"id": opportunity_id, "stageId": "default-needs-analysis", "expectedVersion": 1}
    )
    await tap.wait_for(opportunity_id, "pipeline.opportunity.stage_changed")
    await wait_outbox_empty(db)
    before = await db.opportunities.find_one({"_id": opportunity_id})

    body = await gql(
        MOVE, {"id": opportunity_id, "stageId": "default-proposal", "expectedVersion": 1}
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert body["errors"][0]["extensions"]["currentVersion"] == 2

    after = await db.opportunities.find_one({"_id": opportunity_id})
    assert after == before
    await asyncio.sleep(0.5)
    assert [e["sequence"] for e in tap.about(opportunity_id)] == [1, 2]


async def test_invalid_input_is_rejected_and_writes_nothing(
    gql: GraphQLClient,
    manager_gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    other = (
        await manager_gql.data(
            """mutation { createPipeline(input: {name: "Renewals", stages: [
                {name: "Open", probability: 0.3, kind: OPEN},
                {name: "Renewed", probability: 1, kind: WON},
                {name: "Churned", probability: 0, kind: LOST}]}) { id stages { id } } }"""
        )
    )["createPipeline"]
    foreign_stage = other["stages"][0]["id"]
    count_before = await db.opportunities.count_documents({})
    titles = []
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount": {"amount": "-5", "currency": "EUR"}}, "BAD_USER_INPUT"),
        ({"amount": {"amount": "10", "currency": "XYZ"}}, "BAD_USER_INPUT"),
        ({"amount": {"amount": "10.001", "currency": "EUR"}}, "BAD_USER_INPUT"),
        ({"amount": {"amount": "NaN", "currency": "EUR"}}, "BAD_USER_INPUT"),
        ({"stageId": foreign_stage}, "BAD_USER_INPUT"),
        ({"stageId": "default-won"}, "BAD_USER_INPUT"),
        ({"title": "   "}, "BAD_USER_INPUT"),
        ({"customerId": "not a valid id!"}, "BAD_USER_INPUT"),
        ({"pipelineId": "no-such-pipeline"}, "NOT_FOUND"),
        ({"customerId": str(uuid.uuid4())}, "NOT_FOUND"),  # never announced
    ]
    for overrides, expected in cases:
        title = overrides.pop("title", f"Rejected {uuid.uuid4().hex[:8]}")
        titles.append(title)
        body = await gql(
            CREATE, {"input": opportunity_input(customer_id, title=title, **overrides)}
        )
        assert body["data"] is None, (overrides, body)
        assert body["errors"][0]["extensions"]["code"] == expected, (overrides, body)
    unknown = body["errors"][0]["message"]
    assert re.fullmatch(r"customer \S+ does not exist", unknown)

    assert await db.opportunities.count_documents({}) == count_before
    await asyncio.sleep(0.5)
    assert not [e for e in tap.events if e.get("data", {}).get("title") in titles]

    # Moving into another pipeline's stage, or an unknown opportunity.
    opportunity = await create(gql, customer_id)
    code = await gql.error_code(MOVE, {"id": opportunity["id"], "stageId": foreign_stage})
    assert code == "BAD_USER_INPUT"
    code = await gql.error_code(MOVE, {"id": str(uuid.uuid4()), "stageId": "default-proposal"})
    assert code == "NOT_FOUND"
    doc = await db.opportunities.find_one({"_id": opportunity["id"]})
    assert doc is not None
    assert (doc["version"], doc["stage_id"]) == (1, "default-initial-contact")


async def test_owner_and_team_follow_the_customer_events_in_version_order(
    amqp: AbstractRobustConnection, db: AsyncDatabase[dict[str, Any]]
) -> None:
    customer_id = str(uuid.uuid4())
    publisher = EventPublisher(amqp)
    try:
        await publisher.publish(
            new_event(
                source="crm/customers",
                type="customers.customer.updated",
                subject=customer_id,
                sequence=3,
                data={"customerId": customer_id, "ownerId": "rep-9", "team": "south"},
            )
        )
    finally:
        await publisher.close()
    await publish_customer_created(amqp, customer_id, owner_id="rep-1", team="north")

    async def known() -> dict[str, Any] | None:
        return await db.known_customers.find_one({"_id": customer_id})

    for _ in range(200):
        doc = await known()
        if doc and doc.get("name"):
            break
        await asyncio.sleep(0.02)
    # The late created (version 1) took nothing back from the update (version 3).
    assert doc is not None
    assert (doc["name"], doc["owner_id"], doc["team"]) == ("ACME", "rep-9", "south")


async def test_a_customer_created_moments_ago_is_awaited(
    gql: GraphQLClient, amqp: AbstractRobustConnection
) -> None:
    customer_id = str(uuid.uuid4())

    async def announce_later() -> None:
        await asyncio.sleep(0.4)
        await publish_customer_created(amqp, customer_id)

    announcing = asyncio.create_task(announce_later())
    created = await create(gql, customer_id)
    await announcing
    assert created["customer"] == {"id": customer_id}


async def test_cards_are_placed_between_their_neighbours(
    gql: GraphQLClient, amqp: AbstractRobustConnection, db: AsyncDatabase[dict[str, Any]]
) -> None:
    customer_id = await known_customer(amqp, db)
    stage = "default-negotiation"
    ids = []
    for _ in range(3):
        opportunity = await create(gql, customer_id)
        await gql.data(MOVE, {"id": opportunity["id"], "stageId": stage})
        ids.append(opportunity["id"])
    a, b, c = ids

    async def column() -> list[str]:
        data = await gql.data(
            """query($c: ID!, $s: ID!) { opportunities(first: 100,
                 filter: {customerId: $c, stageId: $s}) { edges { node { id position } } } }""",
            {"c": customer_id, "s": stage},
        )
        nodes = [e["node"] for e in data["opportunities"]["edges"]]
        return [n["id"] for n in sorted(nodes, key=lambda n: n["position"])]

    assert await column() == [a, b, c]  # appended in order
    moved = (await gql.data(MOVE, {"id": c, "stageId": stage, "beforeId": a}))["moveOpportunity"]
    assert moved["version"] == 2  # a move within the column is not a stage change
    assert await column() == [c, a, b]
    await gql.data(MOVE, {"id": c, "stageId": stage, "afterId": a})
    assert await column() == [a, c, b]
    await gql.data(MOVE, {"id": a, "stageId": stage, "afterId": c, "beforeId": b})
    assert await column() == [c, a, b]
    code = await gql.error_code(MOVE, {"id": a, "stageId": stage, "afterId": b, "beforeId": c})
    assert code == "BAD_USER_INPUT"  # neighbours in the wrong order


async def test_customer_entities_are_batched_into_one_query(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    pipeline_api: PipelineApi,
    run_config: RunConfig,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    first = await known_customer(amqp, db)
    second = await known_customer(amqp, db)
    await create(gql, first, amount={"amount": "100.50", "currency": "EUR"})
    await create(gql, first, amount={"amount": "200", "currency": "EUR"})
    await create(gql, first, amount={"amount": "7", "currency": "USD"})
    won = await create(gql, first, amount={"amount": "1000", "currency": "EUR"})
    await gql.data(MOVE, {"id": won["id"], "stageId": "default-won"})
    await create(gql, second, amount={"amount": "5000", "currency": "JPY"})
    await wait_outbox_empty(db)
    await asyncio.sleep(0.3)  # let the relay settle: its passes would count too

    async def finds() -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{pipeline_api.url}/metrics")).text
        pattern = (
            r'crm_mongo_commands_total\{command="find",database="'
            + re.escape(run_config.database)
            + r'"\} ([0-9.e+]+)'
        )
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0

    query = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
        id openPipelineValue { amount currency }
        opportunities { id status amount { amount currency } stage { name } pipeline { id } }
        open: opportunities(status: OPEN) { id } } } }"""
    representations = [
        {"__typename": "Customer", "id": first},
        {"__typename": "Customer", "id": second},
        {"__typename": "Customer", "id": str(uuid.uuid4())},
    ]
    before = await finds()
    data = await gql.data(query, {"r": representations})
    after = await finds()
    # One query for all the customers' opportunities, one for their pipelines.
    assert after - before == 2, after - before

    one, two, nobody = data["_entities"]
    assert one["openPipelineValue"] == [
        {"amount": "300.50", "currency": "EUR"},
        {"amount": "7.00", "currency": "USD"},
    ]
    assert len(one["opportunities"]) == 4
    assert len(one["open"]) == 3
    assert two["openPipelineValue"] == [{"amount": "5000", "currency": "JPY"}]
    assert nobody == {
        "id": representations[2]["id"],
        "openPipelineValue": [],
        "opportunities": [],
        "open": [],
    }

    # Without nested pipeline fields: exactly one query per _entities request.
    before = await finds()
    await gql.data(
        """query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
            openPipelineValue { amount } opportunities { id } } } }""",
        {"r": representations},
    )
    assert await finds() - before == 1


async def test_opportunity_entities_and_connection(
    gql: GraphQLClient, amqp: AbstractRobustConnection, db: AsyncDatabase[dict[str, Any]]
) -> None:
    customer_id = await known_customer(amqp, db)
    made = [(await create(gql, customer_id))["id"] for _ in range(3)]
    data = await gql.data(
        """query($r: [_Any!]!) { _entities(representations: $r) {
             ... on Opportunity { id title customer { id } } } }""",
        {"r": [{"__typename": "Opportunity", "id": i} for i in [*made, "missing"]]},
    )
    assert [e["id"] if e else None for e in data["_entities"]] == [*made, None]

    page_query = """query($c: ID!, $after: String) {
        opportunities(first: 2, after: $after, filter: {customerId: $c, status: OPEN}) {
          totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }"""
    first_page = (await gql.data(page_query, {"c": customer_id}))["opportunities"]
    assert first_page["totalCount"] == 3
    assert first_page["pageInfo"]["hasNextPage"] is True
    second_page = (
        await gql.data(page_query, {"c": customer_id, "after": first_page["pageInfo"]["endCursor"]})
    )["opportunities"]
    assert second_page["pageInfo"]["hasNextPage"] is False
    seen = [e["node"]["id"] for e in first_page["edges"] + second_page["edges"]]
    assert seen == list(reversed(made))  # newest first
