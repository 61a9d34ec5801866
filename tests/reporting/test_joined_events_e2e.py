"""Events joined to the graph: through the gateway, a `stageChanges` subscription selects the
deal and its customer (`StageChangeEvent.opportunity`, an entity reference the gateway
resolves against the pipeline and the customers subgraphs) in the same message."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import websockets

from devstack import Suite
from support.graphql import data, gql
from support.polling import eventually

JOINED = """subscription { stageChanges { toStageName opportunityId
    opportunity { id title customer { name } } } }"""


async def test_a_subscription_selects_the_deal_and_its_customer(suite: Suite, token: Any) -> None:
    admin = token("admin", user_id="admin-join")
    name = f"Joined Co {uuid.uuid4().hex[:6]}"
    customer = (
        await data(
            suite.gateway_url,
            "mutation($i: CreateCustomerInput!){ createCustomer(input: $i){ id } }",
            {"i": {"kind": "COMPANY", "name": name}},
            token=admin,
        )
    )["createCustomer"]["id"]
    url = suite.gateway_url.replace("http://", "ws://")
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {admin}"}})
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": JOINED}})
        )
        await asyncio.sleep(1)  # the subscription is registered before the deal moves
        create = "mutation($i: CreateOpportunityInput!){ createOpportunity(input: $i){ id } }"
        opened = {
            "i": {
                "title": "joined deal",
                "customerId": customer,
                "amount": {"amount": "7", "currency": "EUR"},
            }
        }
        body = await eventually(
            lambda: gql(suite.gateway_url, create, opened, token=admin),
            lambda b: not b.get("errors"),
            what="deal created",
        )
        deal = body["data"]["createOpportunity"]["id"]
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            change = message["payload"]["data"]["stageChanges"]
            if change["opportunityId"] == deal:
                break
    assert change["opportunity"] == {
        "id": deal,
        "title": "joined deal",
        "customer": {"name": name},
    }
    assert change["toStageName"] == "Initial contact"
