"""The complete funnel through the real service: every command and event type, stage
management, the board, visibility, bad input, and the customer events it consumes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from pipeline_testkit import (
    Contracts,
    EventTap,
    GraphQLClient,
    PipelineApi,
    RunConfig,
)
from pymongo.asynchronous.database import AsyncDatabase
from test_pipeline_api import CREATE, MOVE, TRACEPARENT, create, known_customer, wait_outbox_empty

from crm_common.amqp import EventPublisher
from crm_common.events import EXCHANGE, new_event
from support.polling import eventually

FIELDS = """id title status version priority nextStep lostReason team ownerId closedAt
  expectedCloseDate amount { amount currency } stage { id name kind retired }
  stageHistory { fromStageId toStageId actorId ownerId amount { amount currency } }"""
UPDATE = f"""mutation($id: ID!, $input: UpdateOpportunityInput!, $v: Int) {{
  updateOpportunity(id: $id, input: $input, expectedVersion: $v) {{ {FIELDS} }} }}"""
WIN = f"""mutation($id: ID!, $v: Int) {{ winOpportunity(id: $id, expectedVersion: $v) {{
  {FIELDS} }} }}"""
LOSE = f"""mutation($id: ID!, $reason: String!, $v: Int) {{
  loseOpportunity(id: $id, reason: $reason, expectedVersion: $v) {{ {FIELDS} }} }}"""
REOPEN = f"""mutation($id: ID!, $stageId: ID!, $v: Int) {{
  reopenOpportunity(id: $id, stageId: $stageId, expectedVersion: $v) {{ {FIELDS} }} }}"""
CREATE_FULL = f"""mutation($input: CreateOpportunityInput!) {{
  createOpportunity(input: $input) {{ {FIELDS} }} }}"""
GET = f"""query($id: ID!) {{ opportunity(id: $id) {{ {FIELDS} }} }}"""
BOARD = """query($p: ID!, $f: BoardFilter, $first: Int, $after: String) {
  board(pipelineId: $p, filter: $f) {
    pipeline { id name }
    columns { stage { id name } count
      totalAmount { amount currency } weightedAmount { amount currency }
      opportunities(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } } } }"""
NEW_PIPELINE = """mutation($name: String!) { createPipeline(input: {name: $name, stages: [
  {name: "Qualify", probability: 0.2, kind: OPEN, rottingDays: 3},
  {name: "Offer", probability: 0.5, kind: OPEN},
  {name: "Signed", probability: 1, kind: WON},
  {name: "Dropped", probability: 0, kind: LOST}]}) { id version stages { id name order } } }"""

SIX_TYPES = ["created", "updated", "stage_changed", "won", "reopened", "lost"]


async def test_a_deal_lives_through_every_command_and_event(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    traced = GraphQLClient(gql.url, gql.token, headers={"traceparent": TRACEPARENT})
    created = await create(
        traced, customer_id, priority="HIGH", nextStep="Send the deck", title="Lifecycle"
    )
    oid = created["id"]
    updated = (
        await traced.data(
            UPDATE,
            {
                "id": oid,
                "v": 1,
                "input": {
                    "title": "Lifecycle, bigger",
                    "amount": {"amount": "2400", "currency": "EUR"},
                    "nextStep": None,
                    "expectedCloseDate": "2027-01-15",
                },
            },
        )
    )["updateOpportunity"]
    assert (updated["version"], updated["nextStep"], updated["priority"]) == (2, None, "HIGH")
    assert updated["amount"] == {"amount": "2400.00", "currency": "EUR"}
    await traced.data(MOVE, {"id": oid, "stageId": "default-proposal", "expectedVersion": 2})
    won = (await traced.data(WIN, {"id": oid, "v": 3}))["winOpportunity"]
    assert (won["status"], won["stage"]["kind"], won["version"]) == ("WON", "WON", 4)
    assert won["closedAt"] is not None
    reopened = (await traced.data(REOPEN, {"id": oid, "stageId": "default-negotiation"}))[
        "reopenOpportunity"
    ]
    assert (reopened["status"], reopened["closedAt"]) == ("OPEN", None)
    lost = (await traced.data(LOSE, {"id": oid, "reason": "Budget cut", "v": 5}))["loseOpportunity"]
    assert (lost["status"], lost["lostReason"], lost["version"]) == ("LOST", "Budget cut", 6)
    history = [(h["fromStageId"], h["toStageId"]) for h in lost["stageHistory"]]
    assert history == [
        (None, "default-initial-contact"),
        ("default-initial-contact", "default-proposal"),
        ("default-proposal", "default-won"),
        ("default-won", "default-negotiation"),
        ("default-negotiation", "default-lost"),
    ]
    # The history keeps the amount of each moment.
    assert lost["stageHistory"][0]["amount"]["amount"] == "1200.00"
    assert lost["stageHistory"][1]["amount"]["amount"] == "2400.00"

    for type_ in SIX_TYPES:
        await tap.wait_for(oid, f"pipeline.opportunity.{type_}")
    events = tap.about(oid)
    assert [e["type"].rsplit(".", 1)[1] for e in events] == SIX_TYPES
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5, 6]
    for event in events:
        contracts.validate(event)
        assert event["actorid"] == "rep-1"
        assert event["traceparent"] == TRACEPARENT
        assert event["subject"] == oid
    changes = events[1]["data"]["changes"]
    assert changes == {
        "title": {"from": "Lifecycle", "to": "Lifecycle, bigger"},
        "amount": {
            "from": {"amount": "1200.00", "currency": "EUR"},
            "to": {"amount": "2400.00", "currency": "EUR"},
        },
        "nextStep": {"from": "Send the deck", "to": None},
        "expectedCloseDate": {"from": None, "to": "2027-01-15"},
    }
    assert events[3]["data"]["fromStage"]["id"] == "default-proposal"
    assert events[4]["data"]["fromStage"]["kind"] == "WON"
    assert events[5]["data"]["lostReason"] == "Budget cut"


async def test_stale_versions_conflict_on_every_command_and_write_nothing(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    oid = (await create(gql, customer_id))["id"]
    await gql.data(UPDATE, {"id": oid, "input": {"title": "v2"}})
    await wait_outbox_empty(db)
    before = await db.opportunities.find_one({"_id": oid})
    for query, variables in [
        (UPDATE, {"id": oid, "v": 1, "input": {"title": "stale"}}),
        (MOVE, {"id": oid, "stageId": "default-proposal", "expectedVersion": 1}),
        (WIN, {"id": oid, "v": 1}),
        (LOSE, {"id": oid, "v": 1, "reason": "stale"}),
    ]:
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
        assert body["errors"][0]["extensions"]["currentVersion"] == 2

    # Two users drag the same card at once: exactly one wins, the other is told.
    results = await asyncio.gather(
        gql(MOVE, {"id": oid, "stageId": "default-proposal", "expectedVersion": 2}),
        gql(MOVE, {"id": oid, "stageId": "default-negotiation", "expectedVersion": 2}),
    )
    codes = sorted(
        r["errors"][0]["extensions"]["code"] if r.get("errors") else "OK" for r in results
    )
    assert codes == ["CONFLICT", "OK"]
    after = await db.opportunities.find_one({"_id": oid})
    assert after is not None
    assert before is not None
    assert after["version"] == 3
    await asyncio.sleep(0.5)
    assert [e["sequence"] for e in tap.about(oid)] == [1, 2, 3]


async def test_bad_input_is_refused_with_nothing_written_and_no_event(
    gql: GraphQLClient,
    manager_gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    other = (await manager_gql.data(NEW_PIPELINE, {"name": f"Other {uuid.uuid4().hex[:6]}"}))[
        "createPipeline"
    ]
    foreign = other["stages"][0]["id"]
    count = await db.opportunities.count_documents({})
    for overrides in (
        {"amount": {"amount": "abc", "currency": "EUR"}},
        {"amount": {"amount": "-1", "currency": "EUR"}},
        {"amount": {"amount": "1", "currency": "EURO"}},
        {"title": "t" * 201},
        {"nextStep": "n" * 501},
        {"stageId": foreign},
    ):
        body = await gql(CREATE, {"input": {**_input(customer_id), **overrides}})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (overrides, body)
    assert await db.opportunities.count_documents({}) == count

    oid = (await create(gql, customer_id))["id"]
    await tap.wait_for(oid, "pipeline.opportunity.created")
    await wait_outbox_empty(db)
    before = await db.opportunities.find_one({"_id": oid})
    refused: list[tuple[str, dict[str, Any]]] = [
        (UPDATE, {"id": oid, "input": {"amount": {"amount": "1e400", "currency": "EUR"}}}),
        (UPDATE, {"id": oid, "input": {"amount": {"amount": "12", "currency": "ZZZ"}}}),
        (UPDATE, {"id": oid, "input": {"amount": {"amount": "-12", "currency": "EUR"}}}),
        (UPDATE, {"id": oid, "input": {"title": "x" * 5000}}),
        (UPDATE, {"id": oid, "input": {"title": None}}),
        (LOSE, {"id": oid, "reason": "  "}),
        (LOSE, {"id": oid, "reason": "r" * 1001}),
        (MOVE, {"id": oid, "stageId": foreign}),
        (REOPEN, {"id": oid, "stageId": "default-proposal"}),  # not closed
    ]
    for query, variables in refused:
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
    assert await db.opportunities.find_one({"_id": oid}) == before

    await gql.data(WIN, {"id": oid})
    await wait_outbox_empty(db)
    closed = await db.opportunities.find_one({"_id": oid})
    for query, variables in [
        (MOVE, {"id": oid, "stageId": "default-proposal"}),  # moving a closed deal
        (WIN, {"id": oid}),
        (LOSE, {"id": oid, "reason": "late"}),
        (REOPEN, {"id": oid, "stageId": "default-lost"}),  # not an OPEN stage
        (REOPEN, {"id": oid, "stageId": foreign}),
    ]:
        body = await gql(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
    assert await db.opportunities.find_one({"_id": oid}) == closed
    await asyncio.sleep(0.5)
    assert [e["sequence"] for e in tap.about(oid)] == [1, 2]


def _input(customer_id: str) -> dict[str, Any]:
    return {
        "title": f"Deal {uuid.uuid4().hex[:6]}",
        "customerId": customer_id,
        "amount": {"amount": "100", "currency": "EUR"},
    }


async def test_stages_are_managed_and_a_retired_stage_stays_readable(
    gql: GraphQLClient,
    manager_gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    pipeline = (await manager_gql.data(NEW_PIPELINE, {"name": f"Mgmt {uuid.uuid4().hex[:6]}"}))[
        "createPipeline"
    ]
    pid = pipeline["id"]
    qualify, offer = pipeline["stages"][0]["id"], pipeline["stages"][1]["id"]
    deal = (await create(gql, customer_id, pipelineId=pid, stageId=offer))["id"]

    add = """mutation($p: ID!, $v: Int) { addStage(pipelineId: $p, position: 2, expectedVersion: $v,
        input: {name: "Demo", probability: 0.3, kind: OPEN, rottingDays: 5}) {
        version stages { id name order } } }"""
    assert (await gql(add, {"p": pid}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    added = (await manager_gql.data(add, {"p": pid, "v": 1}))["addStage"]
    assert [s["name"] for s in added["stages"]] == ["Qualify", "Demo", "Offer", "Signed", "Dropped"]
    assert added["version"] == 2
    stale = await manager_gql(add, {"p": pid, "v": 1})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    demo = added["stages"][1]["id"]
    renamed = (
        await manager_gql.data(
            """mutation($p: ID!, $s: ID!) { updateStage(pipelineId: $p, stageId: $s,
                input: {name: "Proposal sent", probability: 0.6}) {
                stages { id name probability } } }""",
            {"p": pid, "s": offer},
        )
    )["updateStage"]
    assert renamed["stages"][2] == {"id": offer, "name": "Proposal sent", "probability": 0.6}
    reordered = (
        await manager_gql.data(
            """mutation($p: ID!, $ids: [ID!]!) { reorderStages(pipelineId: $p, stageIds: $ids) {
                stages { id order } } }""",
            {"p": pid, "ids": [offer, qualify, demo]},
        )
    )["reorderStages"]
    assert [s["id"] for s in reordered["stages"]][:3] == [offer, qualify, demo]
    assert [s["order"] for s in reordered["stages"]] == [1, 2, 3, 4, 5]

    # The deal reads its stage under the new name; after retirement too.
    retired = (
        await manager_gql.data(
            """mutation($p: ID!, $s: ID!) { retireStage(pipelineId: $p, stageId: $s) {
                stages { id } all: stages(includeRetired: true) { id retired } } }""",
            {"p": pid, "s": offer},
        )
    )["retireStage"]
    assert offer not in [s["id"] for s in retired["stages"]]
    assert {"id": offer, "retired": True} in retired["all"]
    read = (await gql.data(GET, {"id": deal}))["opportunity"]
    assert read["stage"] == {"id": offer, "name": "Proposal sent", "kind": "OPEN", "retired": True}
    # No deal enters a retired stage; a deal in it can leave.
    other = (await create(gql, customer_id, pipelineId=pid))["id"]
    code = await gql.error_code(MOVE, {"id": other, "stageId": offer})
    assert code == "BAD_USER_INPUT"
    # The board shows the retired column while a deal sits in it.
    board = (await gql.data(BOARD, {"p": pid}))["board"]
    # (in its old place)
    assert [c["stage"]["id"] for c in board["columns"]] == [offer, qualify, demo]
    await gql.data(MOVE, {"id": deal, "stageId": demo})
    board = (await gql.data(BOARD, {"p": pid}))["board"]
    assert [c["stage"]["id"] for c in board["columns"]] == [qualify, demo]
    history = (await gql.data(GET, {"id": deal}))["opportunity"]["stageHistory"]
    assert history[-1]["fromStageId"] == offer


async def test_the_board_sums_per_currency_keeps_card_order_and_filters(
    gql: GraphQLClient,
    manager_gql: GraphQLClient,
    run_config: RunConfig,
    pipeline_api: PipelineApi,
    amqp: AbstractRobustConnection,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    customer_id = await known_customer(amqp, db)
    pid = (await manager_gql.data(NEW_PIPELINE, {"name": f"Board {uuid.uuid4().hex[:6]}"}))[
        "createPipeline"
    ]["id"]
    qualify, offer = f"{pid}-qualify", f"{pid}-offer"
    team_gql = GraphQLClient(
        pipeline_api.url, run_config.token("rep-b", ["rep"], team="team-board")
    )
    a = await create(
        gql, customer_id, pipelineId=pid, amount={"amount": "100.10", "currency": "EUR"}
    )
    b = await create(gql, customer_id, pipelineId=pid, amount={"amount": "200", "currency": "EUR"})
    c = await create(gql, customer_id, pipelineId=pid, amount={"amount": "3", "currency": "USD"})
    theirs = await known_customer(amqp, db, owner_id="rep-b", team="team-board")
    d = await create(team_gql, theirs, pipelineId=pid, amount={"amount": "1000", "currency": "JPY"})
    e = await create(gql, customer_id, pipelineId=pid, stageId=offer)
    won = await create(gql, customer_id, pipelineId=pid)
    await gql.data(WIN, {"id": won["id"]})
    # Drag c to the top of its column, then d between c and a.
    admin = GraphQLClient(pipeline_api.url, run_config.token("admin-1", ["admin"]))
    await admin.data(MOVE, {"id": c["id"], "stageId": qualify, "beforeId": a["id"]})
    await admin.data(
        MOVE, {"id": d["id"], "stageId": qualify, "afterId": c["id"], "beforeId": a["id"]}
    )
    board = (await admin.data(BOARD, {"p": pid}))["board"]
    columns = {col["stage"]["id"]: col for col in board["columns"]}
    assert list(columns) == [qualify, offer]  # OPEN stages only
    q = columns[qualify]
    assert q["count"] == 4
    assert q["totalAmount"] == [
        {"amount": "300.10", "currency": "EUR"},
        {"amount": "1000", "currency": "JPY"},
        {"amount": "3.00", "currency": "USD"},
    ]
    assert q["weightedAmount"] == [
        {"amount": "60.02", "currency": "EUR"},
        {"amount": "200", "currency": "JPY"},
        {"amount": "0.60", "currency": "USD"},
    ]
    order = [edge["node"]["id"] for edge in q["opportunities"]["edges"]]
    assert order == [c["id"], d["id"], a["id"], b["id"]]
    assert columns[offer]["count"] == 1
    assert columns[offer]["totalAmount"] == [{"amount": "1200.00", "currency": "EUR"}]
    # Pages of a column follow the same order.
    page = (await admin.data(BOARD, {"p": pid, "first": 2}))["board"]["columns"][0]
    conn = page["opportunities"]
    assert [x["node"]["id"] for x in conn["edges"]] == [c["id"], d["id"]]
    assert conn["pageInfo"]["hasNextPage"] is True
    assert conn["totalCount"] == 4
    rest = (
        await admin.data(BOARD, {"p": pid, "first": 2, "after": conn["pageInfo"]["endCursor"]})
    )["board"]["columns"][0]["opportunities"]
    assert [x["node"]["id"] for x in rest["edges"]] == [a["id"], b["id"]]

    # Filters: by owner, and idle deals (older than the stage's rotting days: 3 for Qualify).
    mine = (await admin.data(BOARD, {"p": pid, "f": {"ownerId": "rep-b"}}))["board"]
    assert [col["count"] for col in mine["columns"]] == [1, 0]
    old = datetime.now(UTC) - timedelta(days=4)
    await db.opportunities.update_one({"_id": b["id"]}, {"$set": {"updated_at": old}})
    await db.opportunities.update_one({"_id": e["id"]}, {"$set": {"updated_at": old}})
    idle = (await admin.data(BOARD, {"p": pid, "f": {"idle": True}}))["board"]
    assert [col["count"] for col in idle["columns"]] == [1, 0]  # Offer has no threshold
    assert idle["columns"][0]["opportunities"]["edges"] == [
        {"node": {"id": b["id"], "title": b["title"]}}
    ]
    listed = await admin.data(
        """query($p: ID!) { opportunities(filter: {pipelineId: $p, idle: true}) {
             totalCount edges { node { id } } } }""",
        {"p": pid},
    )
    assert listed["opportunities"]["totalCount"] == 1
    assert listed["opportunities"]["edges"] == [{"node": {"id": b["id"]}}]
    flagged = (await admin.data(GET, {"id": b["id"]}))["opportunity"]
    assert flagged["id"] == b["id"]
    idle_flag = await admin.data(
        "query($id: ID!) { opportunity(id: $id) { idle } }", {"id": b["id"]}
    )
    assert idle_flag["opportunity"]["idle"] is True

    # Visibility applies to the board: the rep sees their own cards only.
    own = (await gql.data(BOARD, {"p": pid}))["board"]
    assert [col["count"] for col in own["columns"]] == [3, 1]
    theirs = (await team_gql.data(BOARD, {"p": pid}))["board"]
    assert [col["count"] for col in theirs["columns"]] == [1, 0]


async def test_visibility_rep_manager_admin(
    pipeline_api: PipelineApi,
    run_config: RunConfig,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    def client(user: str, role: str, team: str | None) -> GraphQLClient:
        return GraphQLClient(pipeline_api.url, run_config.token(user, [role], team))

    team = f"team-{uuid.uuid4().hex[:6]}"
    rep_a, rep_b = client("vis-rep-a", "rep", team), client("vis-rep-b", "rep", team)
    manager, outsider = client("vis-m", "manager", team), client("vis-m2", "manager", "elsewhere")
    service = client("reporting", "service", None)
    customer_id = await known_customer(amqp, db, owner_id="vis-rep-a", team=team)
    deal = (await rep_a.data(CREATE_FULL, {"input": _input(customer_id)}))["createOpportunity"]
    assert deal["team"] == team

    for denied in (rep_b, outsider):
        body = await denied(GET, {"id": deal["id"]})
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for allowed in (rep_a, manager, service, client("root", "admin", None)):
        assert (await allowed.data(GET, {"id": deal["id"]}))["opportunity"]["id"] == deal["id"]

    before = await db.opportunities.find_one({"_id": deal["id"]})
    for denied, query, variables in [
        (rep_b, MOVE, {"id": deal["id"], "stageId": "default-proposal"}),
        (outsider, WIN, {"id": deal["id"]}),
        (service, UPDATE, {"id": deal["id"], "input": {"title": "mine"}}),
        (rep_a, UPDATE, {"id": deal["id"], "input": {"ownerId": "vis-rep-b"}}),
        (rep_a, CREATE, {"input": {**_input(customer_id), "ownerId": "vis-rep-b"}}),
    ]:
        body = await denied(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert await db.opportunities.find_one({"_id": deal["id"]}) == before
    await asyncio.sleep(0.3)
    assert [e["type"] for e in tap.about(deal["id"])] == ["pipeline.opportunity.created"]

    # The manager reassigns within the team; lists and the customer view are filtered.
    await manager.data(UPDATE, {"id": deal["id"], "input": {"ownerId": "vis-rep-b"}})
    listed = """query($c: ID!) { opportunities(filter: {customerId: $c}) { totalCount } }"""
    assert (await rep_a.data(listed, {"c": customer_id}))["opportunities"]["totalCount"] == 0
    assert (await rep_b.data(listed, {"c": customer_id}))["opportunities"]["totalCount"] == 1
    assert (await outsider.data(listed, {"c": customer_id}))["opportunities"]["totalCount"] == 0
    entities = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
        opportunities { id } openPipelineValue { amount } } } }"""
    rep = [{"__typename": "Customer", "id": customer_id}]
    assert (await rep_a.data(entities, {"r": rep}))["_entities"][0] == {
        "opportunities": [],
        "openPipelineValue": [],
    }
    seen = (await rep_b.data(entities, {"r": rep}))["_entities"][0]
    assert [o["id"] for o in seen["opportunities"]] == [deal["id"]]


# -- consumed customer events ---------------------------------------------------------------


async def publish(
    amqp: AbstractRobustConnection, type_: str, data: dict[str, Any], contracts: Contracts
) -> str:
    """Publish what the customers service publishes (checked against its contract), twice:
    delivery is at least once."""
    subject = str(data.get("survivorId") or data.get("transferId"))
    event = new_event(
        source="crm/customers",
        type=type_,
        subject=subject,
        sequence=1,
        data=data,
        actor_id="admin-1",
    )
    contracts.validate(event.model_dump(exclude_none=True))
    publisher = EventPublisher(amqp)
    try:
        await publisher.publish(event)
        await publisher.publish(event)
    finally:
        await publisher.close()
    return event.id


async def test_merges_and_transfers_are_applied_once(
    gql: GraphQLClient,
    amqp: AbstractRobustConnection,
    tap: EventTap,
    contracts: Contracts,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    survivor = await known_customer(amqp, db)
    merged = await known_customer(amqp, db)
    moved = (await create(gql, merged))["id"]
    stays = (await create(gql, survivor))["id"]
    await publish(
        amqp,
        "customers.customer.merged",
        {"survivorId": survivor, "mergedIds": [merged], "mergedAt": "2026-11-26T18:00:00.000Z"},
        contracts,
    )

    async def repointed() -> bool:
        doc = await db.opportunities.find_one({"_id": moved})
        return doc is not None and doc["customer_id"] == survivor

    await eventually(repointed, within=10)
    [updated] = await tap.wait_for(moved, "pipeline.opportunity.updated")
    contracts.validate(updated)
    assert updated["data"]["changes"] == {"customerId": {"from": merged, "to": survivor}}
    assert updated["actorid"] == "admin-1"
    # A deal opened later for the merged customer goes to the survivor.
    late = await create(gql, merged)
    assert late["customer"] == {"id": survivor}

    # Ownership: the open deals of those customers move to the new owner, closed ones stay.
    closed = (await create(gql, survivor))["id"]
    await gql.data(WIN, {"id": closed})
    await publish(
        amqp,
        "customers.ownership.transferred",
        {
            "fromOwnerId": "rep-1",
            "toOwnerId": "rep-new",
            "includeOpenOpportunities": True,
            "customerIds": [survivor],
            "transferId": uuid.uuid4().hex,
        },
        contracts,
    )

    async def transferred() -> bool:
        docs = [d async for d in db.opportunities.find({"customer_id": survivor, "status": "OPEN"})]
        return bool(docs) and all(d["owner_id"] == "rep-new" for d in docs)

    await eventually(transferred, within=10)
    await asyncio.sleep(0.5)  # the duplicate delivery had its chance
    for oid, version in ((moved, 3), (stays, 2)):
        doc = await db.opportunities.find_one({"_id": oid})
        assert doc is not None
        assert (doc["owner_id"], doc["version"]) == ("rep-new", version)
    closed_doc = await db.opportunities.find_one({"_id": closed})
    assert closed_doc is not None
    assert closed_doc["owner_id"] == "rep-1"
    for event in tap.about(stays, "pipeline.opportunity.updated"):
        contracts.validate(event)
    try:
        await tap.wait_for(moved, "pipeline.opportunity.updated", count=2)
    except AssertionError:
        print("DOC", await db.opportunities.find_one({"_id": moved}))
        raise
    await asyncio.sleep(0.3)
    assert len(tap.about(moved, "pipeline.opportunity.updated")) == 2  # not applied twice


async def test_a_poison_message_goes_to_the_dead_letter_queue_and_consuming_goes_on(
    amqp: AbstractRobustConnection,
    run_config: RunConfig,
    pipeline_api: PipelineApi,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    channel = await amqp.channel()
    try:
        exchange = await channel.get_exchange(EXCHANGE)
        await exchange.publish(
            aio_pika.Message(body=b"{not json", message_id="poison-1"),
            routing_key="customers.customer.merged",
        )
        bad = new_event(
            source="crm/customers",
            type="customers.customer.merged",
            subject="x",
            sequence=1,
            data={"survivorId": "ok", "mergedIds": "not-a-list"},
        )
        await exchange.publish(
            aio_pika.Message(body=bad.to_json(), message_id=bad.id),
            routing_key="customers.customer.merged",
        )
        dlq = await channel.declare_queue(f"{run_config.customer_queue}.dlq", passive=True)
        dead: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def two_dead() -> bool:
            message = await dlq.get(fail=False)
            if message is not None:
                dead.append(message)
                await message.ack()
            return len(dead) >= 2

        await eventually(two_dead, within=10)
        reasons = {m.message_id: str((m.headers or {}).get("x-death-reason")) for m in dead}
        assert "not a valid CloudEvent" in reasons["poison-1"]
        assert "mergedIds must be a list" in reasons[bad.id]
        assert dead[0].headers["x-original-routing-key"] == "customers.customer.merged"
        body = json.loads(dead[1].body)
        assert body["id"] == bad.id  # the message is kept as it was
    finally:
        await channel.close()
    # The consumer keeps going.
    customer_id = await known_customer(amqp, db)
    assert customer_id
