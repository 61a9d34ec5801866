"""Follow-ups through the gateway: create/update/complete/reopen/delete with expectedVersion,
the list's filters (due buckets included) and visibility per role, Customer.tasks and
Opportunity.tasks through federation, the TASK_DONE timeline entry, the customers.task.due
event (checked against its contract), interactions attached to a deal, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import jsonschema
import pytest

from devstack import Suite
from workspace.workspace_client import Caller, admin, new_customer, new_deal, rep, unique

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "events"
TASK = "id title dueAt status version assigneeId customerId opportunityId priority notes"
CREATE = f"mutation($i: CreateTaskInput!) {{ createTask(input: $i) {{ {TASK} }} }}"
LIST = f"""query($f: TaskFilter, $first: Int, $after: String) {{
  tasks(filter: $f, first: $first, after: $after) {{
    edges {{ cursor node {{ {TASK} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def ids(caller: Caller, **filter: Any) -> list[str]:
    page = await caller.data(LIST, {"f": filter, "first": 100})
    return [edge["node"]["id"] for edge in page["tasks"]["edges"]]


@pytest.fixture(scope="module")
async def due_events(suite: Suite) -> AsyncIterator[list[dict[str, Any]]]:
    """Every customers.task.due event of the session's broker, as it arrives."""
    connection = await aio_pika.connect_robust(suite.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        "crm.events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="customers.task.due")
    received: list[dict[str, Any]] = []

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        received.append(json.loads(message.body))

    await queue.consume(on_message, no_ack=True)
    yield received
    await connection.close()


@pytest.fixture(scope="module")
async def world(suite: Suite) -> dict[str, Any]:
    seller = rep(suite)
    customer = await new_customer(seller, unique("Task Co"))
    deal = await new_deal(seller, customer, unique("task deal"), "10.00")
    return {"rep": seller, "customer": customer, "deal": deal}


async def test_lifecycle_with_versions_and_the_timeline(world: dict[str, Any]) -> None:
    seller: Caller = world["rep"]
    created = (
        await seller.data(
            CREATE,
            {
                "i": {
                    "title": "Call back",
                    "dueAt": at(days=1),
                    "customerId": world["customer"],
                    "opportunityId": world["deal"]["id"],
                    "priority": "HIGH",
                    "notes": "pricing",
                }
            },
        )
    )["createTask"]
    assert created["assigneeId"] == seller.user_id
    assert (created["status"], created["version"], created["priority"]) == ("OPEN", 1, "HIGH")
    update = """mutation($id: ID!, $v: Int, $i: UpdateTaskInput!) {
      updateTask(id: $id, input: $i, expectedVersion: $v) { title version notes } }"""
    changed = (
        await seller.data(
            update, {"id": created["id"], "v": 1, "i": {"title": "Call Anna back", "notes": None}}
        )
    )["updateTask"]
    assert changed == {"title": "Call Anna back", "version": 2, "notes": None}
    assert await seller.codes(update, {"id": created["id"], "v": 1, "i": {"title": "x"}}) == [
        "CONFLICT"
    ]
    complete = """mutation($id: ID!, $v: Int) {
      completeTask(id: $id, expectedVersion: $v) { status version completedAt } }"""
    assert await seller.codes(complete, {"id": created["id"], "v": 1}) == ["CONFLICT"]
    done = (await seller.data(complete, {"id": created["id"], "v": 2}))["completeTask"]
    assert (done["status"], done["version"]) == ("DONE", 3)
    assert await seller.codes(complete, {"id": created["id"]}) == ["BAD_USER_INPUT"]
    timeline = """query($id: ID!) { customer(id: $id) { timeline(first: 50, kinds: [TASK_DONE]) {
      edges { node { kind summary opportunityId } } } } }"""
    entries = (await seller.data(timeline, {"id": world["customer"]}))["customer"]["timeline"][
        "edges"
    ]
    assert [e["node"] for e in entries] == [
        {
            "kind": "TASK_DONE",
            "summary": "Task done: Call Anna back",
            "opportunityId": world["deal"]["id"],
        }
    ]
    reopen = "mutation($id: ID!) { reopenTask(id: $id) { status version } }"
    assert (await seller.data(reopen, {"id": created["id"]}))["reopenTask"] == {
        "status": "OPEN",
        "version": 4,
    }
    delete = "mutation($id: ID!, $v: Int) { deleteTask(id: $id, expectedVersion: $v) { id } }"
    assert await seller.codes(delete, {"id": created["id"], "v": 3}) == ["CONFLICT"]
    assert (await seller.data(delete, {"id": created["id"], "v": 4}))["deleteTask"][
        "id"
    ] == created["id"]
    assert await seller.codes(delete, {"id": created["id"]}) == ["NOT_FOUND"]


async def test_due_buckets_filters_and_the_today_list(world: dict[str, Any]) -> None:
    seller: Caller = world["rep"]
    now = datetime.now(UTC)
    end_of_today = now.replace(hour=23, minute=59, second=0, microsecond=0)
    made = {}
    for name, due in (
        ("overdue", now - timedelta(hours=2)),
        ("today", min(now + timedelta(minutes=5), end_of_today)),
        ("later", now + timedelta(days=9)),
    ):
        task = (
            await seller.data(
                CREATE,
                {"i": {"title": name, "dueAt": due.isoformat(), "customerId": world["customer"]}},
            )
        )["createTask"]
        made[name] = task["id"]
    mine = {"customerId": world["customer"], "status": "OPEN"}
    assert set(await ids(seller, due="OVERDUE", **mine)) >= {made["overdue"]}
    assert made["later"] not in await ids(seller, due="OVERDUE", **mine)
    today = await ids(seller, due="TODAY", **mine)
    if (now - timedelta(hours=2)).date() == now.date():
        assert made["overdue"] in today
    assert made["today"] in today
    assert made["later"] not in today
    assert made["later"] in await ids(seller, due="LATER", **mine)
    assert made["later"] not in await ids(seller, due="THIS_WEEK", **mine)
    window = await ids(seller, **{"from": at(days=8), "to": at(days=10)}, **mine)
    assert window == [made["later"]]
    assert set(await ids(seller, assigneeId=seller.user_id, **mine)) >= set(made.values())
    # by due time, ascending, paged with a cursor
    first = await seller.data(LIST, {"f": mine, "first": 1})
    after = first["tasks"]["pageInfo"]["endCursor"]
    rest = await seller.data(LIST, {"f": mine, "first": 100, "after": after})
    order = [first["tasks"]["edges"][0]["node"]] + [e["node"] for e in rest["tasks"]["edges"]]
    dues = [n["dueAt"] for n in order]
    assert dues == sorted(dues)


async def test_visibility_follows_assignee_and_customer(
    suite: Suite, world: dict[str, Any]
) -> None:
    seller: Caller = world["rep"]
    task = (
        await seller.data(
            CREATE,
            {"i": {"title": "private", "dueAt": at(hours=5), "customerId": world["customer"]}},
        )
    )["createTask"]
    outsider = rep(suite, team="team-elsewhere")
    assert task["id"] not in await ids(outsider)
    assert (await outsider.data("query($id: ID!) { task(id: $id) { id } }", {"id": task["id"]}))[
        "task"
    ] is None
    complete = "mutation($id: ID!) { completeTask(id: $id) { id } }"
    assert await outsider.codes(complete, {"id": task["id"]}) == ["NOT_FOUND"]
    manager = Caller(suite, "manager", unique("mgr"))
    assert task["id"] in await ids(manager, customerId=world["customer"])
    assert task["id"] in await ids(admin(suite), customerId=world["customer"])
    # a rep assigns only to themselves; a manager to anyone
    variables = {"i": {"title": "for you", "dueAt": at(hours=1), "assigneeId": "someone-else"}}
    assert await seller.codes(CREATE, variables) == ["FORBIDDEN"]
    assert (await manager.data(CREATE, variables))["createTask"]["assigneeId"] == "someone-else"
    # another rep's customer cannot carry my task
    other_customer = await new_customer(outsider, unique("Not yours"))
    assert await seller.codes(
        CREATE, {"i": {"title": "x", "dueAt": at(hours=1), "customerId": other_customer}}
    ) == ["FORBIDDEN"]


async def test_customer_and_opportunity_tasks_and_interactions_through_federation(
    world: dict[str, Any],
) -> None:
    seller: Caller = world["rep"]
    deal_id = world["deal"]["id"]
    task = (
        await seller.data(
            CREATE, {"i": {"title": "deal step", "dueAt": at(days=2), "opportunityId": deal_id}}
        )
    )["createTask"]
    assert task["customerId"] == world["customer"]  # learnt from the deal's timeline entries
    log = """mutation($c: ID!, $i: InteractionInput!) {
      logInteraction(customerId: $c, input: $i) { id opportunityId } }"""
    call = (
        await seller.data(
            log,
            {
                "c": world["customer"],
                "i": {"kind": "CALL", "summary": "discussed the offer", "opportunityId": deal_id},
            },
        )
    )["logInteraction"]
    assert call["opportunityId"] == deal_id
    query = """query($c: ID!, $o: ID!) {
      customer(id: $c) { tasks { id } }
      opportunity(id: $o) { title tasks { id title } interactions { kind summary } } }"""
    got = await seller.data(query, {"c": world["customer"], "o": deal_id})
    assert task["id"] in [t["id"] for t in got["customer"]["tasks"]]
    assert [t["id"] for t in got["opportunity"]["tasks"]] == [task["id"]] or task["id"] in [
        t["id"] for t in got["opportunity"]["tasks"]
    ]
    assert {"kind": "CALL", "summary": "discussed the offer"} in got["opportunity"]["interactions"]


async def test_bad_input_writes_nothing(world: dict[str, Any]) -> None:
    seller: Caller = world["rep"]
    before = await ids(seller, customerId=world["customer"])
    other = await new_customer(seller, unique("Other Co"))
    wrong_deal = {"customerId": other, "opportunityId": world["deal"]["id"]}
    assert await seller.codes(
        CREATE, {"i": {"title": "x", "dueAt": at(hours=1), **wrong_deal}}
    ) == ["BAD_USER_INPUT"]
    for bad in (
        {"title": " ", "dueAt": at(hours=1)},
        {"title": "x" * 301, "dueAt": at(hours=1)},
        {"title": "no zone", "dueAt": "2027-01-01T10:00:00"},
    ):
        body = await seller.body(CREATE, {"i": {"customerId": world["customer"], **bad}})
        codes = [e["extensions"]["code"] for e in body.get("errors") or []]
        assert codes == ["BAD_USER_INPUT"], (bad, body)
    assert await ids(seller, customerId=world["customer"]) == before
    assert await seller.codes(LIST, {"f": {"from": at(days=2), "to": at(days=1)}}) == [
        "BAD_USER_INPUT"
    ]
    assert await seller.codes(LIST, {"after": "bm90LWEtY3Vyc29y"}) == ["BAD_USER_INPUT"]


async def test_due_tasks_are_announced_once_as_events(
    world: dict[str, Any], due_events: list[dict[str, Any]]
) -> None:
    seller: Caller = world["rep"]
    task = (
        await seller.data(
            CREATE,
            {"i": {"title": "due now", "dueAt": at(seconds=-5), "customerId": world["customer"]}},
        )
    )["createTask"]
    schema = json.loads((CONTRACTS / "customers.task.due.schema.json").read_text())
    for _ in range(100):
        mine = [e for e in due_events if e.get("subject") == task["id"]]
        if mine:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("no customers.task.due event")
    await asyncio.sleep(6)  # another sweep passes: still one
    mine = [e for e in due_events if e.get("subject") == task["id"]]
    assert len(mine) == 1
    event = mine[0]
    assert event["type"] == "customers.task.due"
    jsonschema.validate(event["data"], schema)
    assert event["data"]["overdue"] is True
    assert event["data"]["assigneeId"] == seller.user_id
