"""Crashes lose nothing: real customers processes killed with SIGKILL at a crash point
(``CUSTOMERS_CRASH_AT``, adapters/faults.py) between two writes, then started again on the
same database. The audit entry of a change, and a merge begun, survive and are finished."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import pytest
from customers_process import CustomersProcess
from pymongo import MongoClient
from pymongo.database import Database

from crm_common.events import EXCHANGE
from support.polling import eventually, eventually_sync

AUDIT = """
query($id: ID!) { customer(id: $id) { id version audit(first: 50) { edges { node {
  customerId version action actorId note changes { field from to } } } } } }"""
CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id version } }"""
UPDATE = """
mutation($id: ID!, $input: UpdateCustomerInput!) {
  updateCustomer(id: $id, input: $input) { id version name } }"""
LOG = """
mutation($id: ID!, $input: InteractionInput!) { logInteraction(customerId: $id, input: $input) {
  id } }"""
MERGE = """
mutation($t: ID!, $s: [ID!]!) { mergeCustomers(targetId: $t, sourceIds: $s) {
  mergedIds movedInteractions movedContacts changes { field from to }
  survivor { id tags mergedIds } } }"""
CUSTOMER = """
query($id: ID!) { customer(id: $id) { id name tags mergedIds
  contacts { id }
  timeline(first: 50) { totalCount edges { node { summary mergedFrom } } } } }"""


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def operation_state(db: Database[dict[str, Any]], operation_id: str) -> str | None:
    document = db.operations.find_one({"_id": operation_id})
    return None if document is None else str(document["state"])


@pytest.fixture
def database(mongodb_url: str) -> Iterator[tuple[str, Database[dict[str, Any]]]]:
    name = f"test_customers_crash_{uuid.uuid4().hex[:10]}"
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)
    try:
        yield name, client[name]
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture
def processes(
    infrastructure: Any, database: tuple[str, Database[dict[str, Any]]]
) -> Iterator[Callable[..., CustomersProcess]]:
    """Starts customers processes on the test's database; stops those still running."""
    started: list[CustomersProcess] = []

    def start(**env: str) -> CustomersProcess:
        process = CustomersProcess(
            infrastructure.mongodb_url,
            infrastructure.amqp_url,
            database[0],
            infrastructure.log_dir,
            CUSTOMERS_RELAY_POLL_INTERVAL="600",
            CUSTOMERS_RECOVERY_INTERVAL="600",  # only the pass at start: that is under test
            **env,
        )
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


def test_an_audit_entry_survives_a_crash_between_the_write_and_its_move(
    processes: Callable[..., CustomersProcess], database: tuple[str, Database[dict[str, Any]]]
) -> None:
    db = database[1]
    first = processes()
    cid = ok(first.post(CREATE, {"input": {"kind": "PERSON", "name": "Ada"}}))["createCustomer"][
        "id"
    ]
    first.stop()

    crashing = processes(CUSTOMERS_CRASH_AT="customer-written")
    crashing.post_until_it_dies(UPDATE, {"id": cid, "input": {"name": "Ada Lovelace"}})
    # The change and its audit entry were one write; the move never happened.
    document = db.customers.find_one({"_id": cid})
    assert document is not None
    assert (document["name"], document["version"]) == ("Ada Lovelace", 2)
    assert [e["_id"] for e in document["audit_outbox"]] == [f"{cid}:2"]
    assert document["audit_pending"] is True
    assert db.audit.find_one({"_id": f"{cid}:2"}) is None

    again = processes()
    eventually_sync(lambda: db.audit.find_one({"_id": f"{cid}:2"}) is not None)
    eventually_sync(lambda: "audit_pending" not in (db.customers.find_one({"_id": cid}) or {}))
    trail = ok(again.post(AUDIT, {"id": cid}))["customer"]["audit"]["edges"]
    assert [(e["node"]["version"], e["node"]["action"]) for e in trail] == [
        (2, "UPDATE"),
        (1, "CREATE"),
    ]
    assert trail[0]["node"]["changes"] == [{"field": "name", "from": "Ada", "to": "Ada Lovelace"}]
    assert trail[0]["node"]["actorId"] == "rep-1"
    assert db.audit.count_documents({"customer_id": cid}) == 2  # moved once, not twice

    # Read your writes: an entry still pending in the document (as a crash leaves it, while
    # this process's start-up pass is over) is in the trail already.
    pending = {
        "_id": f"{cid}:3",
        "customer_id": cid,
        "version": 3,
        "action": "UPDATE",
        "changes": [{"field": "tags", "from": [], "to": ["vip"]}],
        "at": document["updated_at"],
        "actor_id": "rep-1",
        "actor_name": "User rep-1",
        "note": None,
        "sort_key": "9999\x00" + f"{cid}:3",
    }
    db.customers.update_one(
        {"_id": cid}, {"$push": {"audit_outbox": pending}, "$set": {"audit_pending": True}}
    )
    trail = ok(again.post(AUDIT, {"id": cid}))["customer"]["audit"]["edges"]
    assert [e["node"]["version"] for e in trail] == [3, 2, 1]


async def test_a_merge_killed_midway_is_finished_at_restart_and_its_event_arrives(
    processes: Callable[..., CustomersProcess],
    database: tuple[str, Database[dict[str, Any]]],
    amqp_url: str,
) -> None:
    db = database[1]
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="customers.customer.merged")

        first = processes()

        def create(**fields: Any) -> str:
            body = first.post(CREATE, {"input": fields})
            created: str = ok(body)["createCustomer"]["id"]
            return created

        target = create(kind="COMPANY", name="Acme", tags=["a"])
        source = create(kind="COMPANY", name="ACME Inc", tags=["b"])
        contact = create(kind="PERSON", name="Wile", companyId=source)
        for customer, text in ((target, "target call"), (source, "s1"), (source, "s2")):
            ok(first.post(LOG, {"id": customer, "input": {"kind": "CALL", "summary": text}}))
        first.stop()

        crashing = processes(CUSTOMERS_CRASH_AT="merge-absorbed")
        crashing.post_until_it_dies(MERGE, {"t": target, "s": [source]})
        # Killed after the survivor's write: old ids resolve already, the rest is still to do.
        [operation] = list(db.operations.find({}))
        assert (operation["kind"], operation["state"]) == ("MERGE", "PENDING")
        assert operation["plan"]["sourceIds"] == [source]
        assert source in db.customers.find_one({"_id": target})["merged_ids"]  # type: ignore[index]
        assert db.customers.find_one({"_id": source}) is not None

        again = processes()
        await eventually(lambda: operation_state(db, operation["_id"]) == "DONE")
        assert db.customers.find_one({"_id": source}) is None
        assert db.merged_customers.find_one({"_id": source})["merged_into"] == target  # type: ignore[index]
        survivor = ok(again.post(CUSTOMER, {"id": source}))["customer"]  # the old id resolves
        assert survivor["id"] == target
        assert survivor["mergedIds"] == [source]
        assert sorted(survivor["tags"]) == ["a", "b"]
        assert [c["id"] for c in survivor["contacts"]] == [contact]
        timeline = survivor["timeline"]
        assert timeline["totalCount"] == 3
        assert sorted(
            (e["node"]["summary"], e["node"]["mergedFrom"]) for e in timeline["edges"]
        ) == [("s1", source), ("s2", source), ("target call", None)]
        audit_ids = {d["_id"] for d in db.audit.find({"customer_id": {"$in": [target, source]}})}
        assert {f"{target}:1", f"{target}:2", f"{source}:1"} <= audit_ids

        # The event was in the survivor's write: published, by the first process or the next.
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not events and time.monotonic() < deadline:
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.2)
                continue
            body = json.loads(message.body)
            if body["data"]["survivorId"] == target:
                events.append(body)
        assert events, "the merged event never arrived"
        assert events[0]["data"]["mergedIds"] == [source]

        # Asked again, the same merge answers the same, and changes nothing.
        results = [ok(again.post(MERGE, {"t": target, "s": [source]}))["mergeCustomers"]]
        results.append(ok(again.post(MERGE, {"t": target, "s": [source]}))["mergeCustomers"])
        assert results[0] == results[1]
        assert results[0]["mergedIds"] == [source]
        assert results[0]["movedInteractions"] == 2
        assert results[0]["movedContacts"] == 1
        assert {"field": "tags", "from": ["a"], "to": ["a", "b"]} in results[0]["changes"]
        assert db.operations.count_documents({}) == 1
    finally:
        await connection.close()


TRANSFER = """
mutation($from: ID!, $to: ID!) { transferOwnership(fromOwnerId: $from, toOwnerId: $to) {
  transferId transferredCount customerIds runs } }"""


async def test_a_transfer_killed_before_its_record_is_finished_and_its_event_arrives(
    processes: Callable[..., CustomersProcess],
    database: tuple[str, Database[dict[str, Any]]],
    amqp_url: str,
) -> None:
    db = database[1]
    leaving, taking = f"rep-{uuid.uuid4().hex[:6]}", f"rep-{uuid.uuid4().hex[:6]}"
    admin: dict[str, Any] = {"user_id": "boss", "roles": ("admin",)}
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="customers.ownership.transferred")

        first = processes()
        ids = sorted(
            ok(
                first.post(
                    CREATE, {"input": {"kind": "PERSON", "name": n, "ownerId": leaving}}, **admin
                )
            )["createCustomer"]["id"]
            for n in ("One", "Two")
        )
        first.stop()

        crashing = processes(CUSTOMERS_CRASH_AT="transfer-applied")
        crashing.post_until_it_dies(TRANSFER, {"from": leaving, "to": taking}, **admin)
        # Killed after the owners changed (each with its audit entry), before the record.
        assert {d["owner_id"] for d in db.customers.find({"_id": {"$in": ids}})} == {taking}
        assert db.transfers.count_documents({}) == 0
        [operation] = list(db.operations.find({}))
        assert (operation["kind"], operation["state"]) == ("TRANSFER", "PENDING")

        again = processes()
        await eventually(lambda: operation_state(db, operation["_id"]) == "DONE")
        [record] = list(db.transfers.find({}))
        assert sorted(record["customer_ids"]) == ids
        assert record["run_ids"] == [operation["_id"]]
        for customer_id in ids:
            trail = ok(again.post(AUDIT, {"id": customer_id}, **admin))["customer"]["audit"]
            latest = trail["edges"][0]["node"]
            assert (latest["action"], latest["actorId"]) == ("TRANSFER", "boss")
            assert latest["changes"] == [{"field": "ownerId", "from": leaving, "to": taking}]

        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not events and time.monotonic() < deadline:
            message = await queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.2)
                continue
            body = json.loads(message.body)
            if body["data"]["fromOwnerId"] == leaving:
                events.append(body)
        assert events, "the transferred event never arrived"
        assert sorted(events[0]["data"]["customerIds"]) == ids

        # Run again: the same transfer, nothing left to move, one more run.
        second = ok(again.post(TRANSFER, {"from": leaving, "to": taking}, **admin))
        assert second["transferOwnership"]["transferredCount"] == 0
        assert second["transferOwnership"]["runs"] == 2
        assert sorted(second["transferOwnership"]["customerIds"]) == ids
    finally:
        await connection.close()
