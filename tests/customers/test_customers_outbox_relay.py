"""The outbox and its relay against the real development MongoDB, with a publisher that can
fail: order, confirms, at-least-once, and no background reads on the fast path."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.collection import AsyncCollection

from crm_common.events import CloudEvent
from crm_common.mongo import connect_mongo
from crm_common.outbox import OutboxRelay
from customers.adapters.customer_documents import to_document
from customers.adapters.mongo_collections import create_indexes, customers_collection
from customers.adapters.mongo_repository import MongoCustomerRepository
from customers.adapters.outbox import CUSTOMER_CREATED, outbox_entry
from customers.domain.model import Customer, CustomerKind
from support.polling import eventually

Collection = AsyncCollection[dict[str, Any]]


class FlakyPublisher:
    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.published: list[CloudEvent] = []
        self.attempts = 0
        self.fail_on = fail_on or set()

    async def publish(self, event: CloudEvent) -> None:
        self.attempts += 1
        if self.attempts in self.fail_on:
            raise ConnectionError("broker went away")
        self.published.append(event)


class RecordingListener:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, list[dict[str, Any]]]] = []

    def submit(self, document_id: str, entries: Sequence[dict[str, Any]]) -> None:
        self.submitted.append((document_id, list(entries)))


@pytest.fixture
async def collection(mongodb_url: str) -> AsyncIterator[Collection]:
    client = connect_mongo(mongodb_url, "customers-tests")
    name = f"test_customers_relay_{uuid.uuid4().hex[:10]}"
    customers = customers_collection(client[name])
    await create_indexes(customers)
    try:
        yield customers
    finally:
        await client.drop_database(name)
        await client.close()


def _customer(name: str) -> Customer:
    return Customer.create(kind=CustomerKind.PERSON, name=name, owner_id="rep-1")


def _finds(collection: Collection) -> float:
    value = REGISTRY.get_sample_value(
        "crm_mongo_commands_total",
        {"command": "find", "database": collection.database.name},
    )
    return value or 0.0


async def _pending_entries(collection: Collection) -> int:
    return sum([len(d["outbox"]) async for d in collection.find({}, {"outbox": 1})])


async def test_add_writes_the_event_in_the_same_insert_and_hands_it_over(
    collection: Collection,
) -> None:
    listener = RecordingListener()
    repository = MongoCustomerRepository(collection, outbox_listener=listener)
    customer = _customer("Ada")
    await repository.add(customer)
    assert customer.events == []
    document = await collection.find_one({"_id": customer.id})
    assert document is not None
    assert document["outbox_pending"] is True
    [entry] = document["outbox"]
    assert listener.submitted == [(customer.id, [entry])]
    event = CloudEvent.model_validate(entry)
    assert (event.type, event.subject, event.sequence) == (CUSTOMER_CREATED, customer.id, 1)
    assert event.source == "crm/customers"
    assert event.data == {
        "customerId": customer.id,
        "name": "Ada",
        "kind": "PERSON",
        "ownerId": "rep-1",
        "lifecycle": "LEAD",
    }
    # Reads never see the outbox.
    assert await repository.get(customer.id) is not None


async def test_sweep_publishes_in_order_pulls_only_what_was_confirmed_and_resumes(
    collection: Collection,
) -> None:
    repository = MongoCustomerRepository(collection)
    first, second = _customer("First"), _customer("Second")
    await repository.add(first)
    await repository.add(second)
    # Two later events of the first customer, as later writes will append them.
    extra = [
        {**outbox_entry(_customer("x").events[0]), "subject": first.id, "sequence": n}
        for n in (2, 3)
    ]
    await collection.update_one({"_id": first.id}, {"$push": {"outbox": {"$each": extra}}})

    publisher = FlakyPublisher(fail_on={2})
    relay = OutboxRelay(collection, publisher)
    with pytest.raises(ConnectionError):
        await relay.drain_once()
    assert len(publisher.published) == 1
    assert await _pending_entries(collection) == 3, "the confirmed event was pulled, not others"

    while await collection.count_documents({"outbox_pending": True}):
        await relay.drain_once()
    assert await _pending_entries(collection) == 0
    by_subject: dict[str, list[int]] = {}
    for event in publisher.published:
        by_subject.setdefault(event.subject, []).append(event.sequence)
    assert by_subject == {first.id: [1, 2, 3], second.id: [1]}


async def test_fast_path_publishes_each_write_without_reading(collection: Collection) -> None:
    publisher = FlakyPublisher()
    relay = OutboxRelay(collection, publisher, poll_interval=600)
    repository = MongoCustomerRepository(collection, outbox_listener=relay)
    relay.start()
    try:
        await eventually(lambda: _finds(collection) == 1)  # the start-up sweep
        customers = [_customer(f"Fast {n}") for n in range(5)]
        for customer in customers:
            await repository.add(customer)
        await eventually(lambda: len(publisher.published) == 5)
        assert [e.subject for e in publisher.published] == [c.id for c in customers]
        for _ in range(200):  # the flags are cleared after the publishes
            if not await collection.count_documents({"outbox_pending": True}):
                break
            await asyncio.sleep(0.05)
        assert await collection.count_documents({"outbox_pending": True}) == 0
        assert _finds(collection) == 1, "the fast path reads nothing back"
    finally:
        await relay.stop()


async def test_a_failed_publish_falls_back_to_a_sweep(collection: Collection) -> None:
    publisher = FlakyPublisher(fail_on={1})
    relay = OutboxRelay(collection, publisher, poll_interval=600, min_backoff=0.05)
    repository = MongoCustomerRepository(collection, outbox_listener=relay)
    relay.start()
    try:
        customer = _customer("Retried")
        await repository.add(customer)
        await eventually(lambda: len(publisher.published) == 1)
        assert [e.subject for e in publisher.published] == [customer.id]
        assert publisher.attempts == 2
    finally:
        await relay.stop()


async def test_quiet_sweep_publishes_what_other_processes_left(collection: Collection) -> None:
    # Written by "another process": no submit reaches this relay.
    customer = _customer("Left behind")
    document = to_document(customer)
    document["outbox"] = [outbox_entry(e) for e in customer.events]
    document["outbox_pending"] = True
    publisher = FlakyPublisher()
    relay = OutboxRelay(collection, publisher, poll_interval=0.2)
    relay.start()
    try:
        await asyncio.sleep(0.3)  # after the start-up sweep
        await collection.insert_one(document)
        await eventually(lambda: len(publisher.published) == 1)
        assert publisher.published[0].subject == customer.id
    finally:
        await relay.stop()
