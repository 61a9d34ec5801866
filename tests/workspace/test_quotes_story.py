"""Quotes through the gateway (numbered, frozen items, the QUOTE timeline entry, HTML and PDF
downloads, accept wins the deal, CONFLICT and BAD_USER_INPUT), and the brief's story end to
end: a lead from a campaign, a call logged, a follow-up due tomorrow, a quote of two products
sent, the deal moved on the board, the quote accepted, the deal won, the customer now CUSTOMER
with the quote and the task in its timeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from devstack import Suite
from workspace.test_line_items import product
from workspace.workspace_client import Caller, admin, new_customer, new_deal, rep, unique

SET_LINES = """mutation($id: ID!, $items: [LineItemInput!]!) {
  setLineItems(opportunityId: $id, items: $items) { amount { amount currency } version } }"""
QUOTE = (
    "id number status version total { amount currency } "
    "items { sku quantity total { amount } } htmlUrl pdfUrl"
)
CREATE_QUOTE = f"""mutation($o: ID!, $until: Date!) {{
  createQuote(opportunityId: $o, validUntil: $until) {{ {QUOTE} }} }}"""
SEND = f"mutation($id: ID!, $v: Int) {{ sendQuote(id: $id, expectedVersion: $v) {{ {QUOTE} }} }}"
ACCEPT = (
    f"mutation($id: ID!, $v: Int) {{ acceptQuote(id: $id, expectedVersion: $v) {{ {QUOTE} }} }}"
)
TIMELINE = """query($id: ID!) { customer(id: $id) { lifecycle
  timeline(first: 50) { edges { node { kind summary opportunityId } } } } }"""


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


async def timeline_with(caller: Caller, customer: str, kinds: set[str]) -> dict[str, Any]:
    """The customer once its timeline holds every kind (the events arrive asynchronously)."""
    for _ in range(100):
        found = (await caller.data(TIMELINE, {"id": customer}))["customer"]
        if kinds <= {e["node"]["kind"] for e in found["timeline"]["edges"]}:
            return dict(found)
        await asyncio.sleep(0.2)
    raise AssertionError(f"timeline never held {kinds}: {found}")


async def quoted_deal(suite: Suite, seller: Caller) -> tuple[str, dict[str, Any], str, str]:
    boss = admin(suite)
    seat = await product(boss, "Seat licence", "19.99")
    onboarding = await product(boss, "Onboarding", "500.00")
    customer = await new_customer(seller, unique("Quote Co"))
    deal = await new_deal(seller, customer, unique("quoted"), "1.00")
    items = [
        {"productId": seat, "quantity": 3, "discountPercent": 10},
        {"productId": onboarding, "quantity": 1},
    ]
    await seller.data(SET_LINES, {"id": deal["id"], "items": items})
    return customer, deal, seat, onboarding


async def test_quotes_are_numbered_frozen_and_downloadable(suite: Suite) -> None:
    seller = rep(suite)
    customer, deal, seat, _ = await quoted_deal(suite, seller)
    first = (await seller.data(CREATE_QUOTE, {"o": deal["id"], "until": in_days(30)}))[
        "createQuote"
    ]
    second = (await seller.data(CREATE_QUOTE, {"o": deal["id"], "until": in_days(30)}))[
        "createQuote"
    ]
    assert first["status"] == "DRAFT"
    assert first["total"] == {"amount": "553.97", "currency": "EUR"}
    year = datetime.now(UTC).year
    assert first["number"].startswith(f"Q-{year}-")
    assert int(second["number"].rsplit("-", 1)[1]) > int(first["number"].rsplit("-", 1)[1])
    # the deal's lines change; the quote keeps what it froze
    await seller.data(SET_LINES, {"id": deal["id"], "items": [{"productId": seat, "quantity": 1}]})
    again = await seller.data(
        f"query($id: ID!) {{ quote(id: $id) {{ {QUOTE} }} }}", {"id": first["id"]}
    )
    assert again["quote"]["items"] == first["items"]
    listed = await seller.data(
        "query($id: ID!) { opportunity(id: $id) { quotes { number } } }", {"id": deal["id"]}
    )
    assert [q["number"] for q in listed["opportunity"]["quotes"]] == [
        first["number"],
        second["number"],
    ]
    # documents through the gateway
    base = suite.gateway_url.removesuffix("/graphql")
    async with httpx.AsyncClient(timeout=30) as client:
        mine = {"Authorization": f"Bearer {seller.token}"}
        page = await client.get(base + first["htmlUrl"], headers=mine)
        assert page.status_code == 200
        assert first["number"] in page.text
        assert "553.97 EUR" in page.text
        pdf = await client.get(base + first["pdfUrl"], headers=mine)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        outsider = {"Authorization": f"Bearer {rep(suite, team='team-elsewhere').token}"}
        assert (await client.get(base + first["pdfUrl"], headers=outsider)).status_code == 404
        assert (await client.get(base + first["pdfUrl"])).status_code == 401
    found = await timeline_with(seller, customer, {"QUOTE"})
    quotes = [e["node"] for e in found["timeline"]["edges"] if e["node"]["kind"] == "QUOTE"]
    assert len(quotes) == 2
    assert all(q["opportunityId"] == deal["id"] for q in quotes)


async def test_bad_quotes_and_stale_versions(suite: Suite) -> None:
    seller = rep(suite)
    customer = await new_customer(seller, unique("Bare Co"))
    bare = await new_deal(seller, customer, unique("no lines"), "5.00")
    body = await seller.body(CREATE_QUOTE, {"o": bare["id"], "until": in_days(3)})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["reason"] == "NO_LINE_ITEMS"
    _, deal, _, _ = await quoted_deal(suite, seller)
    past = await seller.body(CREATE_QUOTE, {"o": deal["id"], "until": in_days(-1)})
    assert past["errors"][0]["extensions"]["reason"] == "IN_THE_PAST"
    quote = (await seller.data(CREATE_QUOTE, {"o": deal["id"], "until": in_days(3)}))["createQuote"]
    assert await seller.codes(SEND, {"id": quote["id"], "v": 2}) == ["CONFLICT"]
    sent = (await seller.data(SEND, {"id": quote["id"], "v": 1}))["sendQuote"]
    assert await seller.codes(SEND, {"id": quote["id"]}) == ["BAD_USER_INPUT"]  # sent already
    outsider = rep(suite, team="team-elsewhere")
    assert await outsider.codes(ACCEPT, {"id": quote["id"]}) == ["NOT_FOUND"]
    assert (await seller.data(ACCEPT, {"id": quote["id"], "v": sent["version"]}))["acceptQuote"][
        "status"
    ] == "ACCEPTED"


async def test_the_briefs_story_end_to_end(suite: Suite) -> None:
    seller = rep(suite)
    boss = admin(suite)
    lead = (
        await seller.data(
            """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id lifecycle } }""",
            {
                "i": {
                    "kind": "COMPANY",
                    "name": unique("Story GmbH"),
                    "source": {"channel": "email", "campaign": "spring-launch"},
                }
            },
        )
    )["createCustomer"]
    assert lead["lifecycle"] == "LEAD"
    customer = lead["id"]
    await seller.data(
        """mutation($c: ID!, $i: InteractionInput!) {
          logInteraction(customerId: $c, input: $i) { id } }""",
        {
            "c": customer,
            "i": {"kind": "CALL", "summary": "first call: wants 3 seats and onboarding"},
        },
    )
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    task = (
        await seller.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            {"i": {"title": "send the quote", "dueAt": tomorrow, "customerId": customer}},
        )
    )["createTask"]["id"]
    seat = await product(boss, "Seat licence", "19.99")
    onboarding = await product(boss, "Onboarding", "500.00")
    deal = await new_deal(seller, customer, unique("story deal"), "0")
    priced = (
        await seller.data(
            SET_LINES,
            {
                "id": deal["id"],
                "items": [
                    {"productId": seat, "quantity": 3},
                    {"productId": onboarding, "quantity": 1},
                ],
            },
        )
    )["setLineItems"]
    assert priced["amount"] == {"amount": "559.97", "currency": "EUR"}
    quote = (await seller.data(CREATE_QUOTE, {"o": deal["id"], "until": in_days(14)}))[
        "createQuote"
    ]
    await seller.data(SEND, {"id": quote["id"]})
    await seller.data("mutation($id: ID!) { completeTask(id: $id) { status } }", {"id": task})
    stages = (
        await seller.data(
            """query($id: ID!) { opportunity(id: $id) {
              stage { id } pipeline { stages { id kind } } } }""",
            {"id": deal["id"]},
        )
    )["opportunity"]
    open_stages = [s["id"] for s in stages["pipeline"]["stages"] if s["kind"] == "OPEN"]
    next_stage = open_stages[open_stages.index(stages["stage"]["id"]) + 1]
    moved = await seller.data(
        "mutation($id: ID!, $s: ID!) { moveOpportunity(id: $id, stageId: $s) { stage { id } } }",
        {"id": deal["id"], "s": next_stage},
    )
    assert moved["moveOpportunity"]["stage"]["id"] == next_stage
    accepted = (await seller.data(ACCEPT, {"id": quote["id"]}))["acceptQuote"]
    assert accepted["status"] == "ACCEPTED"
    won = await seller.data(
        "query($id: ID!) { opportunity(id: $id) { status } }", {"id": deal["id"]}
    )
    assert won["opportunity"]["status"] == "WON"
    for _ in range(100):
        final = await timeline_with(
            seller, customer, {"CALL", "QUOTE", "TASK_DONE", "STAGE_CHANGE"}
        )
        if final["lifecycle"] == "CUSTOMER":
            break
        await asyncio.sleep(0.2)
    assert final["lifecycle"] == "CUSTOMER"
    kinds = [e["node"]["kind"] for e in final["timeline"]["edges"]]
    assert {"CALL", "QUOTE", "TASK_DONE", "STAGE_CHANGE", "LIFECYCLE_CHANGE"} <= set(kinds)
