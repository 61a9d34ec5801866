"""The funnel through the gateway: the board, win/lose/reopen/update, the customer view of
deals (batched), and visibility per role, on the real suite."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from devstack import Suite
from support.graphql import data, error_codes, gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }"""
CREATE_DEAL = """
mutation($input: CreateOpportunityInput!) {
  createOpportunity(input: $input) { id version team ownerId priority } }"""
BOARD = """query($p: ID!, $f: BoardFilter) { board(pipelineId: $p, filter: $f) {
  pipeline { name } columns { stage { name } count totalAmount { amount currency }
  weightedAmount { amount currency } opportunities(first: 10) { edges { node { id title
  customer { id name } } } } } } }"""


async def test_board_commands_and_customer_view_through_the_gateway(
    suite: Suite, token: Any
) -> None:
    url = suite.gateway_url
    team = f"team-{uuid.uuid4().hex[:6]}"
    rep_id = f"rep-{uuid.uuid4().hex[:6]}"
    rep = token("rep", user_id=rep_id, team=team)
    other_rep = token("rep", user_id=f"rep-{uuid.uuid4().hex[:6]}", team=team)
    manager = token("manager", user_id=f"mgr-{uuid.uuid4().hex[:6]}", team=team)
    customer = (
        await data(
            url,
            CREATE_CUSTOMER,
            {"input": {"kind": "COMPANY", "name": "Funnel Co", "ownerId": rep_id}},
            token=rep,
        )
    )["createCustomer"]["id"]
    pipeline = (
        await data(
            url,
            """mutation($n: String!) { createPipeline(input: {name: $n, stages: [
              {name: "Lead in", probability: 0.2, kind: OPEN},
              {name: "Quoted", probability: 0.5, kind: OPEN},
              {name: "Closed won", probability: 1, kind: WON},
              {name: "Closed lost", probability: 0, kind: LOST}]}) { id stages { id } } }""",
            {"n": f"E2E {uuid.uuid4().hex[:6]}"},
            token=manager,
        )
    )["createPipeline"]
    pid = pipeline["id"]
    lead_in, quoted = pipeline["stages"][0]["id"], pipeline["stages"][1]["id"]

    deals = []
    for amount, currency in (("1000.00", "EUR"), ("500", "EUR"), ("70", "USD")):
        created = (
            await data(
                url,
                CREATE_DEAL,
                {
                    "input": {
                        "title": f"E2E {amount} {currency}",
                        "customerId": customer,
                        "amount": {"amount": amount, "currency": currency},
                        "pipelineId": pid,
                        "priority": "HIGH",
                    }
                },
                token=rep,
            )
        )["createOpportunity"]
        assert created["team"] == team
        deals.append(created["id"])
    first, second, third = deals

    await data(
        url,
        """mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }""",
        {"id": third, "s": quoted},
        token=rep,
    )
    board = (await data(url, BOARD, {"p": pid}, token=manager))["board"]
    columns = {c["stage"]["name"]: c for c in board["columns"]}
    assert list(columns) == ["Lead in", "Quoted"]
    assert columns["Lead in"]["count"] == 2
    assert columns["Lead in"]["totalAmount"] == [{"amount": "1500.00", "currency": "EUR"}]
    assert columns["Lead in"]["weightedAmount"] == [{"amount": "300.00", "currency": "EUR"}]
    assert columns["Quoted"]["weightedAmount"] == [{"amount": "35.00", "currency": "USD"}]
    cards = columns["Lead in"]["opportunities"]["edges"]
    assert [c["node"]["id"] for c in cards] == [first, second]
    assert cards[0]["node"]["customer"] == {"id": customer, "name": "Funnel Co"}

    # Win, lose (reason required), reopen, update; a stale version is a conflict.
    won = await data(
        url,
        "mutation($id: ID!) { winOpportunity(id: $id, expectedVersion: 1) { status version } }",
        {"id": first},
        token=rep,
    )
    assert won["winOpportunity"] == {"status": "WON", "version": 2}
    stale = await gql(
        url,
        """mutation($id: ID!) { loseOpportunity(id: $id, reason: "x", expectedVersion: 1) {
             id } }""",
        {"id": first},
        token=rep,
    )
    assert error_codes(stale) == ["CONFLICT"]
    lost = await data(
        url,
        """mutation($id: ID!) { loseOpportunity(id: $id, reason: "Went with a competitor") {
             status lostReason } }""",
        {"id": second},
        token=rep,
    )
    assert lost["loseOpportunity"] == {"status": "LOST", "lostReason": "Went with a competitor"}
    reopened = await data(
        url,
        """mutation($id: ID!, $s: ID!) { reopenOpportunity(id: $id, stageId: $s) {
             status lostReason stageHistory { toStage { name } } } }""",
        {"id": second, "s": quoted},
        token=manager,
    )
    assert reopened["reopenOpportunity"]["status"] == "OPEN"
    assert reopened["reopenOpportunity"]["lostReason"] is None
    assert [h["toStage"]["name"] for h in reopened["reopenOpportunity"]["stageHistory"]] == [
        "Lead in",
        "Closed lost",
        "Quoted",
    ]
    updated = await data(
        url,
        """mutation($id: ID!) { updateOpportunity(id: $id, input: {
             amount: {amount: "800", currency: "EUR"}, nextStep: "Call back"}) {
             amount { amount } nextStep version } }""",
        {"id": second},
        token=rep,
    )
    assert updated["updateOpportunity"] == {
        "amount": {"amount": "800.00"},
        "nextStep": "Call back",
        "version": 4,
    }

    # The customer's deals as each role sees them (one batched call per subgraph).
    view = """query($id: ID!) { customer(id: $id) { name
        opportunities { id status } openPipelineValue { amount currency } } }"""
    seen = (await data(url, view, {"id": customer}, token=rep))["customer"]
    assert {o["id"]: o["status"] for o in seen["opportunities"]} == {
        first: "WON",
        second: "OPEN",
        third: "OPEN",
    }
    assert seen["openPipelineValue"] == [
        {"amount": "800.00", "currency": "EUR"},
        {"amount": "70.00", "currency": "USD"},
    ]
    # Another rep may neither read nor change these deals; nothing is written.
    denied = await gql(
        url, "query($id: ID!) { opportunity(id: $id) { id } }", {"id": third}, token=other_rep
    )
    assert error_codes(denied) == ["FORBIDDEN"]
    refused = await gql(
        url,
        """mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { id } }""",
        {"id": third, "s": lead_in},
        token=other_rep,
    )
    assert error_codes(refused) == ["FORBIDDEN"]
    still = await data(
        url, "query($id: ID!) { opportunity(id: $id) { version } }", {"id": third}, token=rep
    )
    assert still["opportunity"]["version"] == 2
