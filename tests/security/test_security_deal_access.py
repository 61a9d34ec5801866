"""Deals only on customers the caller may see: through the gateway and straight at the pipeline
subgraph, a refused open, move or close answers FORBIDDEN and writes nothing (no new state, no
event in the outbox).

The pipeline learns each customer's owner and team from the customer events it consumes
(created, updated, merged, ownership.transferred); the rule is ``crm_common.access``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from crm_common.outbox import OUTBOX, OUTBOX_PENDING
from devstack import Suite
from support.graphql import data, error_codes, gql
from support.polling import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREATE_CUSTOMER = (
    """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"""
)
UPDATE_CUSTOMER = """mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) { id ownerId team } }"""
CREATE_DEAL = """mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { id version customer { id } } }"""
# Through the gateway the reply asks for the customer's name too (the archive answers it).
CREATE_DEAL_NAMED = CREATE_DEAL.replace("customer { id }", "customer { id name }")
MOVE = """mutation($id: ID!) {
  moveOpportunity(id: $id, stageId: "default-proposal") { id version } }"""
WIN = """mutation($id: ID!) { winOpportunity(id: $id) { id status } }"""
LOSE = """mutation($id: ID!) { loseOpportunity(id: $id, reason: "x") { id status } }"""
UPDATE_DEAL = """mutation($id: ID!) { updateOpportunity(id: $id, input: {title: "mine"}) { id } }"""


@pytest.fixture(scope="session")
async def mongo(suite: Suite) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(suite.mongodb_url, tz_aware=True)
    yield client
    await client.close()


def deal_input(customer_id: str, **more: Any) -> dict[str, Any]:
    return {
        "title": f"Deal {uuid.uuid4().hex[:6]}",
        "customerId": customer_id,
        "amount": {"amount": "100", "currency": "EUR"},
        **more,
    }


async def pipeline_state(
    mongo: AsyncMongoClient[dict[str, Any]], suite: Suite
) -> list[dict[str, Any]]:
    """Every opportunity as stored, without the outbox fields the relay changes meanwhile:
    every event is written with a new version of its deal (and a new deal), so an equal state
    also means no event."""
    db = mongo[suite.database("pipeline")]
    projection = {OUTBOX: 0, OUTBOX_PENDING: 0}
    return [doc async for doc in db.opportunities.find({}, projection).sort("_id", 1)]


async def new_customer(suite: Suite, token: str, owner: str, team: str) -> str:
    created = await data(
        suite.gateway_url,
        CREATE_CUSTOMER,
        {"input": {"kind": "COMPANY", "name": f"Co {owner}", "ownerId": owner, "team": team}},
        token=token,
    )
    return str(created["createCustomer"]["id"])


async def known_owner(
    mongo: AsyncMongoClient[dict[str, Any]], suite: Suite, customer_id: str, owner: str
) -> None:
    known = mongo[suite.database("pipeline")].known_customers

    async def probe() -> dict[str, Any] | None:
        return await known.find_one({"_id": customer_id})

    await eventually(
        probe, lambda doc: bool(doc and doc.get("owner_id") == owner), what="owner known"
    )


@pytest.mark.parametrize("where", ["gateway", "pipeline"])
async def test_no_deal_on_a_customer_the_caller_may_not_see(
    suite: Suite, token: Any, mongo: AsyncMongoClient[dict[str, Any]], where: str
) -> None:
    url = suite.gateway_url if where == "gateway" else suite.subgraph_url("pipeline")
    create = CREATE_DEAL_NAMED if where == "gateway" else CREATE_DEAL
    admin = token("admin")
    tag = uuid.uuid4().hex[:6]
    rep_a, rep_b = f"rep-a-{tag}", f"rep-b-{tag}"
    theirs = await new_customer(suite, admin, rep_b, "team-2")
    await known_owner(mongo, suite, theirs, rep_b)
    as_a = token("rep", rep_a, "team-1")
    before = await pipeline_state(mongo, suite)
    for variables in (deal_input(theirs), deal_input(theirs, ownerId=rep_a)):
        body = await gql(url, create, {"input": variables}, token=as_a)
        assert error_codes(body) == ["FORBIDDEN"], body
        assert body["data"] is None
    # A manager of another team does not see it either; one of its team does.
    other_manager = token("manager", f"m-{tag}", "team-1")
    body = await gql(url, create, {"input": deal_input(theirs)}, token=other_manager)
    assert error_codes(body) == ["FORBIDDEN"], body
    assert await pipeline_state(mongo, suite) == before
    manager = token("manager", f"m2-{tag}", "team-2")
    created = await data(url, create, {"input": deal_input(theirs)}, token=manager)
    assert created["createOpportunity"]["version"] == 1


async def test_a_deal_whose_customer_went_to_another_owner_is_no_longer_changed(
    suite: Suite, token: Any, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    admin = token("admin")
    tag = uuid.uuid4().hex[:6]
    rep_a, rep_b = f"rep-a-{tag}", f"rep-b-{tag}"
    as_a = token("rep", rep_a, "team-1")
    customer = await new_customer(suite, admin, rep_a, "team-1")
    await known_owner(mongo, suite, customer, rep_a)
    deal = (
        await data(suite.gateway_url, CREATE_DEAL, {"input": deal_input(customer)}, token=as_a)
    )["createOpportunity"]
    # The customer goes to another rep of another team (customers.customer.updated).
    await data(
        suite.gateway_url,
        UPDATE_CUSTOMER,
        {"id": customer, "input": {"ownerId": rep_b, "team": "team-2"}},
        token=admin,
    )
    await known_owner(mongo, suite, customer, rep_b)
    before = await pipeline_state(mongo, suite)
    for url in (suite.gateway_url, suite.subgraph_url("pipeline")):
        for mutation in (MOVE, WIN, LOSE, UPDATE_DEAL):
            body = await gql(url, mutation, {"id": deal["id"]}, token=as_a)
            assert error_codes(body) == ["FORBIDDEN"], body
    assert await pipeline_state(mongo, suite) == before
    # Whoever sees the customer (an admin) still may.
    moved = await data(suite.gateway_url, MOVE, {"id": deal["id"]}, token=admin)
    assert moved["moveOpportunity"]["version"] == 2


LIST = """{ opportunities { totalCount edges { node { id title customer { id name } } } } }"""
# The deal's own reference to its customer: the id alone, answered without the archive.
LIST_IDS = """{ opportunities { edges { node { id customer { id } } } } }"""
BOARD = """{ board(pipelineId: "default") { columns { count opportunities {
  edges { node { id customer { id name } } } } } } }"""


async def test_own_deal_on_another_owners_customer_nulls_only_that_customer(
    suite: Suite, token: Any, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    """docs/API.md, "A deal of yours on a customer you may not see": the deal stays in the
    rep's list and board; its ``customer`` alone is null with one FORBIDDEN error."""
    admin = token("admin")
    tag = uuid.uuid4().hex[:6]
    rep_a, rep_b = f"rep-a-{tag}", f"rep-b-{tag}"
    theirs = await new_customer(suite, admin, rep_b, "team-2")
    mine = await new_customer(suite, admin, rep_a, "team-1")
    await known_owner(mongo, suite, theirs, rep_b)
    await known_owner(mongo, suite, mine, rep_a)
    deals = {}
    for customer in (theirs, mine):
        created = await data(
            suite.gateway_url,
            CREATE_DEAL,
            {"input": deal_input(customer, ownerId=rep_a, team="team-1")},
            token=admin,
        )
        deals[customer] = created["createOpportunity"]["id"]
    as_a = token("rep", rep_a, "team-1")

    body = await gql(suite.gateway_url, LIST, token=as_a)
    assert "data" in body, body
    edges = body["data"]["opportunities"]["edges"]
    assert body["data"]["opportunities"]["totalCount"] == 2
    by_id = {edge["node"]["id"]: (index, edge["node"]) for index, edge in enumerate(edges)}
    index, hidden = by_id[deals[theirs]]
    assert hidden["customer"] is None
    assert by_id[deals[mine]][1]["customer"]["name"] == f"Co {rep_a}"
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["opportunities", "edges", index, "node", "customer"])
    ]
    assert "Co " not in body["errors"][0]["message"]  # nothing of the customer itself
    ids = await data(suite.gateway_url, LIST_IDS, token=as_a)
    assert {e["node"]["customer"]["id"] for e in ids["opportunities"]["edges"]} == {theirs, mine}

    board = await gql(suite.gateway_url, BOARD, token=as_a)
    column = board["data"]["board"]["columns"][0]
    assert column["count"] == 2
    nodes = [edge["node"] for edge in column["opportunities"]["edges"]]
    assert {node["id"]: node["customer"] is None for node in nodes} == {
        deals[theirs]: True,
        deals[mine]: False,
    }
    assert error_codes(board) == ["FORBIDDEN"]
    assert board["errors"][0]["path"][-1] == "customer"


TRANSFER = """mutation($from: ID!, $to: ID!) {
  transferOwnership(fromOwnerId: $from, toOwnerId: $to, includeOpenOpportunities: true) {
    transferId } }"""


async def test_a_transfer_takes_the_departing_reps_deals_on_customers_of_others(
    suite: Suite, token: Any, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    admin = token("admin")
    tag = uuid.uuid4().hex[:6]
    leaving, successor, other = f"rep-l-{tag}", f"rep-s-{tag}", f"rep-o-{tag}"
    own = await new_customer(suite, admin, leaving, "team-1")
    theirs = await new_customer(suite, admin, other, "team-1")
    await known_owner(mongo, suite, own, leaving)
    await known_owner(mongo, suite, theirs, other)
    deals = []
    for customer in (own, theirs):
        created = await data(
            suite.gateway_url,
            CREATE_DEAL,
            {"input": deal_input(customer, ownerId=leaving, team="team-1")},
            token=admin,
        )
        deals.append(created["createOpportunity"]["id"])
    manager = token("manager", f"m-{tag}", "team-1")
    await data(suite.gateway_url, TRANSFER, {"from": leaving, "to": successor}, token=manager)
    opportunities = mongo[suite.database("pipeline")].opportunities

    async def owners() -> list[str]:
        return [
            doc["owner_id"]
            async for doc in opportunities.find({"_id": {"$in": deals}}, {"owner_id": 1})
        ]

    await eventually(
        owners, lambda found: found == [successor, successor], what="both deals transferred"
    )
    # The other rep's customer stays theirs; the deal on it is the successor's now.
    known = mongo[suite.database("pipeline")].known_customers
    assert (await known.find_one({"_id": theirs}) or {}).get("owner_id") == other
    assert (await known.find_one({"_id": own}) or {}).get("owner_id") == successor
