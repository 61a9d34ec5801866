"""Reporting tools on the real suite, through the gateway: a deal takes its customer's campaign
and counts in ``sourcePerformance``; ``salesPerformance(currency:)`` converts at the rate valid
on the close date; ``auditLog`` by actor and ``Opportunity.audit`` list the changes with
before and after, for admins and a manager of the team, and refuse others."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from devstack import Suite
from support.graphql import data, error_codes, gql
from support.polling import eventually

TEAM = "team-rep17"


async def _open_won_deal(suite: Suite, admin: str, campaign: str) -> tuple[str, str]:
    customer = (
        await data(
            suite.gateway_url,
            "mutation($i: CreateCustomerInput!){ createCustomer(input: $i){ id } }",
            {
                "i": {
                    "kind": "COMPANY",
                    "name": f"Source Co {campaign}",
                    "source": {"channel": "events", "campaign": campaign, "medium": "booth"},
                    "team": TEAM,
                }
            },
            token=admin,
        )
    )["createCustomer"]["id"]
    create = "mutation($i: CreateOpportunityInput!){ createOpportunity(input: $i){ id } }"
    opened = {
        "i": {
            "title": f"deal {campaign}",
            "customerId": customer,
            "amount": {"amount": "1000", "currency": "USD"},
            "team": TEAM,
        }
    }

    async def created() -> dict[str, Any]:
        return await gql(suite.gateway_url, create, opened, token=admin)

    body = await eventually(created, lambda b: not b.get("errors"), what="deal created")
    opportunity = body["data"]["createOpportunity"]["id"]
    await data(
        suite.gateway_url,
        'mutation($id: ID!){ updateOpportunity(id: $id, input: {title: "renamed"}){ id } }',
        {"id": opportunity},
        token=admin,
    )
    await data(
        suite.gateway_url,
        "mutation($id: ID!){ winOpportunity(id: $id){ id } }",
        {"id": opportunity},
        token=admin,
    )
    return customer, opportunity


async def test_source_currency_and_audit_through_the_gateway(suite: Suite, token: Any) -> None:
    admin = token("admin", user_id="admin-17", team=TEAM)
    campaign = f"camp-{uuid.uuid4().hex[:8]}"
    customer, opportunity = await _open_won_deal(suite, admin, campaign)

    source_query = """query($c: String){ sourcePerformance(pipelineId: "default",
        groupBy: CAMPAIGN, currency: $c){ source leads opened won lost winRate avgCycleDays
        wonAmount { amount currency } convertedWonAmount { amount currency } } }"""

    async def row() -> dict[str, Any] | None:
        rows = (await data(suite.gateway_url, source_query, {"c": None}, token=admin))[
            "sourcePerformance"
        ]
        return next((r for r in rows if r["source"] == campaign), None)

    found = await eventually(row, lambda r: r is not None and r["won"] == 1, what="campaign row")
    assert found is not None
    assert (found["leads"], found["opened"], found["won"], found["lost"]) == (1, 1, 1, 0)
    assert found["winRate"] == 1.0
    assert found["wonAmount"] == [{"amount": "1000.00", "currency": "USD"}]

    # One reporting currency: USD is worth 0.5 EUR from 2000 on (the base is EUR).
    rate = await data(
        suite.gateway_url,
        'mutation { setExchangeRate(currency: "USD", rate: "0.5", validFrom: "2000-01-01")'
        " { currency rate validFrom } }",
        token=admin,
    )
    assert rate["setExchangeRate"] == {"currency": "USD", "rate": "0.5", "validFrom": "2000-01-01"}
    rows = (await data(suite.gateway_url, source_query, {"c": "EUR"}, token=admin))[
        "sourcePerformance"
    ]
    converted = next(r for r in rows if r["source"] == campaign)
    assert converted["convertedWonAmount"] == {"amount": "500.00", "currency": "EUR"}
    sales = await data(
        suite.gateway_url,
        '{ salesPerformance(pipelineId: "default", currency: "EUR") { wonAmount { amount currency }'
        " convertedWonAmount { amount currency } ratesUsed { currency rate } } }",
        token=admin,
    )
    performance = sales["salesPerformance"]
    assert performance["convertedWonAmount"]["currency"] == "EUR"
    assert {"currency": "USD", "rate": "0.5"} in performance["ratesUsed"]
    # Every money report takes the currency: forecast (today's rates), pipelineAsOf (the rates
    # valid on `at`); the won deal counts in the Won column at 0.5.
    others = await data(
        suite.gateway_url,
        """query($s: Date!, $e: Date!, $at: DateTime!){
          forecast(pipelineId: "default", periodStart: $s, periodEnd: $e, currency: "EUR")
            { convertedExpected { currency } }
          pipelineAsOf(pipelineId: "default", at: $at, currency: "EUR")
            { kind amount { amount currency } convertedAmount { amount currency } } }""",
        {"s": "2000-01-01", "e": "2100-01-01", "at": "2100-01-01T00:00:00Z"},
        token=admin,
    )
    assert others["forecast"]["convertedExpected"]["currency"] == "EUR"
    [won_column] = [s for s in others["pipelineAsOf"] if s["kind"] == "WON"]
    usd = sum(float(m["amount"]) for m in won_column["amount"] if m["currency"] == "USD")
    eur = sum(float(m["amount"]) for m in won_column["amount"] if m["currency"] == "EUR")
    assert float(won_column["convertedAmount"]["amount"]) == pytest.approx(usd * 0.5 + eur)
    rates = await data(suite.gateway_url, "{ exchangeRates { currency rate } }", token=admin)
    assert {"currency": "USD", "rate": "0.5"} in rates["exchangeRates"]
    bad = await gql(
        suite.gateway_url,
        'mutation { setExchangeRate(currency: "usd", rate: "-1", validFrom: "2000-01-01")'
        " { currency } }",
        token=admin,
    )
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    refused = await gql(
        suite.gateway_url,
        'mutation { setExchangeRate(currency: "GBP", rate: "1.1", validFrom: "2000-01-01")'
        " { currency } }",
        token=token("manager", user_id="mgr-17", team=TEAM),
    )
    assert error_codes(refused) == ["FORBIDDEN"]

    # The audit trail: by actor, across the customer and the deal, with before and after.
    audit_query = """query($f: AuditLogFilter, $after: String){ auditLog(filter: $f, first: 50,
        after: $after){ edges { node { subjectType subjectId type actorId
        changes { field from to } } } pageInfo { hasNextPage endCursor } } }"""

    async def entries(viewer: str, filter_: dict[str, Any]) -> list[dict[str, Any]]:
        log = await data(suite.gateway_url, audit_query, {"f": filter_}, token=viewer)
        return [edge["node"] for edge in log["auditLog"]["edges"]]

    mine = await eventually(
        lambda: entries(admin, {"actorId": "admin-17"}),
        lambda found: (
            {e["type"] for e in found if e["subjectId"] == opportunity}
            >= {
                "pipeline.opportunity.created",
                "pipeline.opportunity.updated",
                "pipeline.opportunity.won",
            }
        ),
        what="the deal's audit entries",
    )
    assert any(e["subjectId"] == customer and e["subjectType"] == "CUSTOMER" for e in mine)
    renamed = next(e for e in mine if e["type"] == "pipeline.opportunity.updated")
    assert {"field": "title", "from": f"deal {campaign}", "to": "renamed"} in renamed["changes"]
    only_won = await entries(
        admin, {"subjectId": opportunity, "types": ["pipeline.opportunity.won"]}
    )
    assert [e["type"] for e in only_won] == ["pipeline.opportunity.won"]
    # Paging: one entry per page, newest first, no entry twice.
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await data(
            suite.gateway_url,
            """query($a: String, $s: ID){ auditLog(filter: {subjectId: $s}, first: 1, after: $a){
            edges { node { type } } pageInfo { hasNextPage endCursor } } }""",
            {"a": after, "s": opportunity},
            token=admin,
        )
        seen += [e["node"]["type"] for e in page["auditLog"]["edges"]]
        if not page["auditLog"]["pageInfo"]["hasNextPage"]:
            break
        after = page["auditLog"]["pageInfo"]["endCursor"]
    assert seen[0] == "pipeline.opportunity.won"
    assert len(seen) == len(set(seen)) == 3

    # Visibility: a manager of the team sees the deal's entries, another team's manager none,
    # a rep is refused.
    team_manager = token("manager", user_id="mgr-17", team=TEAM)
    assert await entries(team_manager, {"subjectId": opportunity})
    assert (
        await entries(token("manager", user_id="mgr-x", team="other"), {"subjectId": opportunity})
        == []
    )
    rep = await gql(suite.gateway_url, audit_query, {"f": {}}, token=token("rep", user_id="rep-17"))
    assert error_codes(rep) == ["FORBIDDEN"]

    # Opportunity.audit, joined by the gateway to the pipeline's deal.
    joined = await data(
        suite.gateway_url,
        "query($id: ID!){ opportunity(id: $id){ title"
        " audit(first: 10){ edges { node { type } } } } }",
        {"id": opportunity},
        token=admin,
    )
    assert joined["opportunity"]["title"] == "renamed"
    types = [e["node"]["type"] for e in joined["opportunity"]["audit"]["edges"]]
    assert types == [
        "pipeline.opportunity.won",
        "pipeline.opportunity.updated",
        "pipeline.opportunity.created",
    ]
