"""Webhooks on the real suite: a receiver in the test verifies every Standard Webhooks
signature, answers 500 once (the delivery is retried, and the deal's next event waits for it:
in order per subject), and gets each event exactly once; a delivery pending when the worker is
killed goes out after its restart; internal addresses are refused unless allowed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook as Verifier

from devstack import Suite
from support.graphql import data, error_codes, gql
from support.polling import eventually


class Receiver:
    def __init__(self) -> None:
        self.secret = ""
        self.failing = 0  # answer 500 to this many more requests
        self.accepted: list[dict[str, Any]] = []
        self.attempts: list[str] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            Verifier(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        self.attempts.append(request.headers["webhook-id"])
        if self.failing > 0:
            self.failing -= 1
            return web.Response(status=500)
        self.accepted.append({**json.loads(body), "webhookId": request.headers["webhook-id"]})
        return web.Response(status=204)


async def test_signed_retried_ordered_and_surviving_a_restart(suite: Suite, token: Any) -> None:
    admin = token("admin", user_id="admin-hooks", team="hooks")
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        created = await data(
            suite.gateway_url,
            "mutation($i: CreateWebhookInput!){ createWebhook(input: $i){ id secret"
            " webhook { active eventTypes } } }",
            {
                "i": {
                    "url": f"http://127.0.0.1:{port}/hook",
                    "eventTypes": ["pipeline.opportunity.*"],
                    "description": "test receiver",
                }
            },
            token=admin,
        )
        hook = created["createWebhook"]
        assert hook["secret"].startswith("whsec_")
        assert hook["webhook"] == {"active": True, "eventTypes": ["pipeline.opportunity.*"]}
        receiver.secret = hook["secret"]

        customer = (
            await data(
                suite.gateway_url,
                'mutation{ createCustomer(input: {kind: COMPANY, name: "Hook Co"}){ id } }',
                token=admin,
            )
        )["createCustomer"]["id"]
        receiver.failing = 1  # the first delivery (created) fails once
        create = "mutation($i: CreateOpportunityInput!){ createOpportunity(input: $i){ id } }"
        opened = {
            "i": {
                "title": "hooked",
                "customerId": customer,
                "amount": {"amount": "5", "currency": "EUR"},
            }
        }
        body = await eventually(
            lambda: gql(suite.gateway_url, create, opened, token=admin),
            lambda b: not b.get("errors"),
            what="deal created",
        )
        deal = body["data"]["createOpportunity"]["id"]
        rename = (
            "mutation($id: ID!, $t: String!){ updateOpportunity(id: $id, input: {title: $t})"
            "{ id } }"
        )
        await data(suite.gateway_url, rename, {"id": deal, "t": "hooked 2"}, token=admin)

        def of_deal() -> list[str]:
            return [e["type"] for e in receiver.accepted if e["subject"] == deal]

        await eventually(of_deal, lambda t: len(t) >= 2, within=40, what="two deliveries")
        # In order per subject: created (retried after a 500) before updated.
        assert of_deal() == ["pipeline.opportunity.created", "pipeline.opportunity.updated"]
        assert receiver.bad_signatures == 0
        first = receiver.accepted[0]["webhookId"]
        assert receiver.attempts.count(first) == 2  # the 500, then the success, same webhook-id

        # A delivery pending when the worker dies goes out after the restart.
        receiver.failing = 1
        await data(suite.gateway_url, rename, {"id": deal, "t": "hooked 3"}, token=admin)
        await eventually(lambda: receiver.failing == 0, within=30, what="the failed attempt")
        suite.kill("analytics-worker")
        await asyncio.to_thread(suite.start, "analytics-worker")  # its readiness check blocks
        await eventually(of_deal, lambda t: len(t) >= 3, within=40, what="delivery after restart")
        assert of_deal()[2] == "pipeline.opportunity.updated"
        ids = [e["id"] for e in receiver.accepted]
        assert len(ids) == len(set(ids))  # each event once
        assert len({e["data"]["title"] for e in receiver.accepted if e["subject"] == deal}) == 3

        log = await data(
            suite.gateway_url,
            "query($w: ID!){ webhookDeliveries(webhookId: $w, first: 10){ edges { node {"
            " eventType status attempts lastStatus } } } }",
            {"w": hook["id"]},
            token=admin,
        )
        nodes = [e["node"] for e in log["webhookDeliveries"]["edges"]]
        assert {n["status"] for n in nodes} == {"DELIVERED"}
        assert sorted(n["attempts"] for n in nodes) == [1, 2, 2]

        # Admins only; internal addresses refused unless allowed; a bad input writes nothing.
        manager = token("manager", user_id="mgr-hooks", team="hooks")
        refused = await gql(suite.gateway_url, "{ webhooks { id } }", token=manager)
        assert error_codes(refused) == ["FORBIDDEN"]
        for url in ("http://10.1.2.3/hook", "ftp://example.com/x", "http://169.254.169.254/"):
            bad = await gql(
                suite.gateway_url,
                "mutation($i: CreateWebhookInput!){ createWebhook(input: $i){ id } }",
                {"i": {"url": url, "eventTypes": ["pipeline.opportunity.won"]}},
                token=admin,
            )
            assert error_codes(bad) == ["BAD_USER_INPUT"], bad
        listed = await data(suite.gateway_url, "{ webhooks { id url } }", token=admin)
        assert [w["id"] for w in listed["webhooks"]] == [hook["id"]]
        deleted = await data(
            suite.gateway_url,
            "mutation($id: ID!){ deleteWebhook(id: $id) }",
            {"id": hook["id"]},
            token=admin,
        )
        assert deleted["deleteWebhook"] is True
    finally:
        await runner.cleanup()
