"""Backtests need history: ``importOpportunities`` brings deals with the dates they went
through each stage; their events carry those dates, so the deal's stage history, the funnel and
the forecast backtest of the past periods cover them from day one. Rows in error are reported
(line, field, code) and not written; a dry run writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack import Suite
from support.graphql import data, error_codes, gql
from support.polling import eventually

IMPORT = """mutation($csv: String!, $dry: Boolean!){ importOpportunities(csv: $csv, dryRun: $dry){
  dryRun rows created failed opportunityIds errors { line field code } ignoredColumns } }"""


def _day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


async def test_imported_history_feeds_the_backtest(suite: Suite, token: Any) -> None:
    admin = token("admin", user_id="admin-import")
    pipeline = (
        await data(
            suite.gateway_url,
            """mutation($i: CreatePipelineInput!){ createPipeline(input: $i){ id } }""",
            {
                "i": {
                    "name": f"Imported {uuid.uuid4().hex[:6]}",
                    "stages": [
                        {"name": "Lead", "probability": 0.2, "kind": "OPEN"},
                        {"name": "Offer", "probability": 0.5, "kind": "OPEN"},
                        {"name": "Won", "probability": 1.0, "kind": "WON"},
                        {"name": "Lost", "probability": 0.0, "kind": "LOST"},
                    ],
                }
            },
            token=admin,
        )
    )["createPipeline"]["id"]
    customer = (
        await data(
            suite.gateway_url,
            'mutation{ createCustomer(input: {kind: COMPANY, name: "Excel Co"}){ id } }',
            token=admin,
        )
    )["createCustomer"]["id"]
    rows = [
        "title,customerId,amount,currency,pipelineId,stageHistory,lostReason,colour",
        f"won deal,{customer},1000,EUR,{pipeline},Lead@{_day(200)}; Offer@{_day(170)};"
        f" Won@{_day(150)},,red",
        f"lost deal,{customer},500,EUR,{pipeline},Lead@{_day(120)}; Lost@{_day(100)},price,",
        f"open deal,{customer},300,EUR,{pipeline},Lead@{_day(30)}; Offer@{_day(10)},,",
        f"bad stage,{customer},300,EUR,{pipeline},Lead@{_day(30)}; Nowhere@{_day(10)},,",
        f"ahead,{customer},300,EUR,{pipeline},Lead@{_day(-5)},,",
        f"backwards,{customer},300,EUR,{pipeline},Lead@{_day(5)}; Offer@{_day(9)},,",
        f"no amount,{customer},,EUR,{pipeline},,,",
    ]
    csv = "\n".join(rows) + "\n"

    async def run(dry: bool) -> dict[str, Any]:
        return await eventually(
            lambda: gql(suite.gateway_url, IMPORT, {"csv": csv, "dry": dry}, token=admin),
            lambda b: not b.get("errors"),
            what="the customer is known to the pipeline",
        )

    dry = (await run(True))["data"]["importOpportunities"]
    assert (dry["dryRun"], dry["rows"], dry["created"], dry["failed"]) == (True, 7, 3, 4)
    assert dry["opportunityIds"] == []
    assert [(e["line"], e["field"], e["code"]) for e in dry["errors"]] == [
        (5, "stageHistory", "UNKNOWN_STAGE"),
        (6, "stageHistory", "FUTURE_DATE"),
        (7, "stageHistory", "DATES_GO_BACK"),
        (8, "amount", "REQUIRED"),
    ]
    assert dry["ignoredColumns"] == ["colour"]
    report = (await run(False))["data"]["importOpportunities"]
    assert (report["created"], report["failed"]) == (3, 4)
    won_id = report["opportunityIds"][0]
    deal = await data(
        suite.gateway_url,
        "query($id: ID!){ opportunity(id: $id){ status stageHistory { toStageId at } } }",
        {"id": won_id},
        token=admin,
    )
    history = deal["opportunity"]["stageHistory"]
    assert deal["opportunity"]["status"] == "WON"
    assert [h["at"][:10] for h in history] == [_day(200), _day(170), _day(150)]

    # Analytics folds the imported past: the funnel, and a backtest period with a win.
    funnel = "query($p: ID!){ funnel(pipelineId: $p){ won lost steps { entered } } }"
    figures = await eventually(
        lambda: data(suite.gateway_url, funnel, {"p": pipeline}, token=admin),
        lambda f: f["funnel"] is not None and f["funnel"]["won"] == 1,
        within=30,
        what="imported deals in the funnel",
    )
    assert figures["funnel"]["lost"] == 1
    assert [s["entered"] for s in figures["funnel"]["steps"]] == [3, 2]
    backtest = await data(
        suite.gateway_url,
        """query($p: ID!){ forecastBacktest(pipelineId: $p, periods: 4, periodDays: 90){
          method periods { periodStart periodEnd actual { amount currency } } } }""",
        {"p": pipeline},
        token=admin,
    )
    periods = backtest["forecastBacktest"][0]["periods"]
    won_in = [p for p in periods if p["actual"]]
    assert len(won_in) == 1
    assert won_in[0]["actual"] == [{"amount": "1000.00", "currency": "EUR"}]
    assert won_in[0]["periodStart"] <= _day(150) <= won_in[0]["periodEnd"]

    # A caller who may not open deals is refused; nothing is written.
    refused = await gql(
        suite.gateway_url,
        IMPORT,
        {"csv": csv, "dry": False},
        token=token("service", user_id="svc-import"),
    )
    assert error_codes(refused) == ["FORBIDDEN"]
