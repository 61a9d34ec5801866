"""Several relays on one database (one per API replica, standalone ones beside them): only the
lease holder publishes, so every event goes out once and in order; another relay takes over
when the holder dies (its lease expires) or stops (it gives the lease back)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from crm_common.events import CloudEvent, new_event
from crm_common.outbox import OUTBOX, OUTBOX_PENDING, PENDING_INDEX, OutboxRelay
from crm_common.outbox_lease import RelayLease

Collection = AsyncCollection[dict[str, Any]]


class RecordingBroker:
    def __init__(self) -> None:
        self.published: list[CloudEvent] = []

    async def publish(self, event: CloudEvent) -> None:
        await asyncio.sleep(0)  # let the other relay run between publishes
        self.published.append(event)


@pytest.fixture
async def collection(mongo: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Collection]:
    name = f"test_relay_lease_{uuid.uuid4().hex[:8]}"
    db = mongo[name]
    await db.aggregates.create_indexes([PENDING_INDEX])
    yield db.aggregates
    await mongo.drop_database(name)


async def seed(collection: Collection, documents: int, events_each: int) -> set[str]:
    ids: set[str] = set()
    docs = []
    for _ in range(documents):
        subject = str(uuid.uuid4())
        outbox = [
            new_event(source="test", type="test.happened", subject=subject, sequence=n, data={})
            for n in range(1, events_each + 1)
        ]
        ids |= {e.id for e in outbox}
        docs.append(
            {
                "_id": subject,
                OUTBOX: [e.model_dump(exclude_none=True) for e in outbox],
                OUTBOX_PENDING: True,
            }
        )
    await collection.insert_many(docs)
    return ids


def relay(
    collection: Collection, broker: RecordingBroker, seconds: float, poll_interval: float = 0.05
) -> OutboxRelay:
    return OutboxRelay(
        collection,
        broker,
        poll_interval=poll_interval,
        min_backoff=0.01,
        lease=RelayLease.of(collection, seconds),
    )


async def wait_for(published: set[str], brokers: list[RecordingBroker], within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if published <= {e.id for b in brokers for e in b.published}:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError("not every event was published in time")


def assert_once_and_in_order(brokers: list[RecordingBroker], expected: set[str]) -> None:
    events = [e for b in brokers for e in b.published]
    assert sorted(e.id for e in events) == sorted(expected)  # each exactly once
    for broker in brokers:
        last: dict[str, int] = {}
        for event in broker.published:
            assert event.sequence > last.get(event.subject or "", 0), "out of order"
            last[event.subject or ""] = event.sequence


async def test_only_the_lease_holder_publishes_each_event_once_in_order(
    collection: Collection,
) -> None:
    brokers = [RecordingBroker() for _ in range(3)]
    relays = [relay(collection, b, seconds=5) for b in brokers]
    for r in relays:
        r.start()
    try:
        expected = await seed(collection, documents=60, events_each=3)
        await wait_for(expected, brokers, within=30)
        await asyncio.sleep(0.3)  # any stray second publisher would show up now
    finally:
        for r in relays:
            await r.stop()
    assert sum(1 for b in brokers if b.published) == 1  # one publisher
    assert_once_and_in_order(brokers, expected)
    assert await collection.count_documents({OUTBOX_PENDING: True}) == 0


async def test_another_relay_takes_over_when_the_holder_dies_or_stops(
    collection: Collection,
) -> None:
    seconds = 1.0
    first, second = RecordingBroker(), RecordingBroker()
    holder = relay(collection, first, seconds)
    task = holder.start()
    await wait_for(await seed(collection, 5, 2), [first], within=10)
    standby = relay(collection, second, seconds)
    standby.start()
    try:
        # The holder dies (no clean stop: its lease is never given back).
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        after_death = await seed(collection, 5, 2)
        took = await wait_for(after_death, [second], within=10)
        assert took < 5 * seconds  # the lease expired and the standby took it
        assert not after_death & {e.id for e in first.published}
        # Now a clean stop hands over at once to a third relay.
        third = RecordingBroker()
        successor = relay(collection, third, seconds=30)  # an expiry far away: only a release helps
        successor.start()
        await asyncio.sleep(0.2)
        await standby.stop()
        handed = await seed(collection, 5, 2)
        took = await wait_for(handed, [third], within=10)
        assert took < 10  # the standby tries every second; far before the 30 s expiry
        await successor.stop()
    finally:
        await standby.stop()
    assert_once_and_in_order(
        [first, second, third], after_death | handed | set(e.id for e in first.published)
    )


async def test_with_standbys_around_the_holder_sweeps_often(collection: Collection) -> None:
    """Writes made through a replica whose relay is a standby wait for the holder's sweep: the
    standby says it is there, and the holder then sweeps every fraction of a second instead of
    every poll interval (an hour here)."""
    first, second = RecordingBroker(), RecordingBroker()
    holder = relay(collection, first, seconds=3, poll_interval=3600)
    holder.start()
    await asyncio.sleep(0.3)  # it holds the lease
    standby = relay(collection, second, seconds=3, poll_interval=3600)
    standby.start()
    try:
        await asyncio.sleep(1.5)  # the standby has said it is there; the holder renewed
        assert holder.lease.held()
        assert not standby.lease.held()
        written = await seed(collection, 3, 2)  # as if through the standby's process
        took = await wait_for(written, [first], within=20)
        assert took < 5  # not the hour of the poll interval
        assert holder.lease.contested
    finally:
        await standby.stop()
        await holder.stop()
