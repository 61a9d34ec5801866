"""The transactional outbox relay, shared by every service that publishes events.

A command writes its change and its CloudEvents in ONE insert/update of the aggregate's document
(an ``outbox`` array, oldest first, and an ``outbox_pending`` flag that services index sparsely).
The relay publishes each document's events in array order (= version order) with a broker
confirm for each, removes exactly the published ones with ``$pull`` by event id (events appended
meanwhile stay), then clears the flag only if the outbox is empty at that instant. On any error
it keeps the events, backs off exponentially and tries again: nothing is ever dropped. A crash
after the write delays an event; a crash after the publish and before the ``$pull`` publishes it
again with the same id (consumers are idempotent).

Two ways in:

- fast path: after a write, the repository hands the relay the document's pending events
  (``submit``), which it publishes without reading them back;
- sweep (``wake``, and at start, after any failure, after ``poll_interval`` seconds without
  activity, at least every ``max_sweep_interval`` seconds under load): the relay reads every
  pending document (``find`` on the flag), which covers what a crash or another process left
  behind. After a failure the queued fast-path work is dropped in favour of a sweep, because
  the database is the source of truth.

Any number of relays may run against one database (one in each API replica, standalone ones
beside them): only the holder of the collection's lease publishes (``crm_common.outbox_lease``),
so each document's events still go out in order, and another relay takes over within the
lease's duration when the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Protocol

from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from crm_common.events import CloudEvent
from crm_common.outbox_lease import CONTESTED_POLL_SECONDS, LeaseLost, RelayLease

log = logging.getLogger(__name__)

# The outbox's fields in an aggregate's document, defined here once for the relay and for
# every repository that writes events.
#: CloudEvents (as dicts) not yet published, oldest first.
OUTBOX = "outbox"
#: ``True`` while ``OUTBOX`` may hold events: the relay's sweep finds documents by it.
OUTBOX_PENDING = "outbox_pending"
#: A projection for reads: they never need the outbox (the relay reads it on its own).
WITHOUT_OUTBOX: dict[str, Any] = {OUTBOX: 0, OUTBOX_PENDING: 0}
#: The sparse index on ``OUTBOX_PENDING`` each collection with an outbox needs.
PENDING_INDEX = IndexModel([(OUTBOX_PENDING, ASCENDING)], name=OUTBOX_PENDING, sparse=True)


def with_outbox_append(update: dict[str, Any], entries: Sequence[dict[str, Any]]) -> None:
    """Adds to ``update`` (in place) the append of ``entries`` to the outbox."""
    if not entries:
        return
    update.setdefault("$set", {})[OUTBOX_PENDING] = True
    update["$push"] = {**update.get("$push", {}), OUTBOX: {"$each": list(entries)}}


EVENTS_PUBLISHED = Counter(
    "crm_outbox_events_published_total", "Outbox events published with a confirm", ["type"]
)
RELAY_FAILURES = Counter("crm_outbox_relay_failures_total", "Failed relay passes")
UNREADABLE_OUTBOX = Counter(
    "crm_outbox_unreadable_total", "Outbox documents skipped: an event did not parse"
)
PENDING_DOCUMENTS = Gauge(
    "crm_outbox_pending_documents", "Documents with pending events seen by the last sweep"
)
LEASE_HELD = Gauge("crm_outbox_lease_held", "1 while this process's relay holds its lease")

_RECENT_IDS = 10_000  # published event ids remembered, so a sweep and the fast path rarely repeat


class Publisher(Protocol):
    async def publish(self, event: CloudEvent) -> None: ...


class OutboxListener(Protocol):
    def submit(self, document_id: str, entries: Sequence[dict[str, Any]]) -> None:
        """A write of this process left ``entries`` (the document's whole pending outbox)."""


class OutboxRelay:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        publisher: Publisher,
        *,
        poll_interval: float = 5.0,
        batch_size: int = 100,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        publish_timeout: float = 15.0,
        max_sweep_interval: float = 60.0,
        lease_seconds: float = 10.0,
        lease: RelayLease | None = None,
    ) -> None:
        self._collection = collection
        self._publisher = publisher
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._publish_timeout = publish_timeout
        self._max_sweep_interval = max(max_sweep_interval, poll_interval)
        self._last_sweep = 0.0
        self._queue: deque[tuple[str, list[dict[str, Any]]]] = deque()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._sweep_needed = True  # whatever a previous process left behind
        self._more = False
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lease = lease or RelayLease.of(collection, lease_seconds)

    @property
    def lease(self) -> RelayLease:
        return self._lease

    def submit(self, document_id: str, entries: Sequence[dict[str, Any]]) -> None:
        if entries:
            self._queue.append((document_id, list(entries)))
            self._wakeup.set()

    def wake(self) -> None:
        """Ask for a sweep now. Safe to call at any time."""
        self._sweep_needed = True
        self._wakeup.set()

    async def drain_once(self) -> int:
        """One sweep over (at most ``batch_size``) documents with pending events; returns the
        number of events published. Raises on the first publishing error, after having
        removed what was already published."""
        if not await self._may_publish():
            return 0
        cursor = self._collection.find({OUTBOX_PENDING: True}, {OUTBOX: 1}, limit=self._batch_size)
        documents = [document async for document in cursor]
        PENDING_DOCUMENTS.set(len(documents))
        self._more = len(documents) >= self._batch_size
        published = 0
        for document in documents:
            published += await self._relay(document["_id"], document.get(OUTBOX) or [])
        return published

    async def drain_submitted(self) -> int:
        """Publishes the fast-path work queued so far; returns the number of events published.

        Up to ``batch_size`` queued writes at a time: their events are published one by one in
        queue order (as ever), then forgotten with ONE ``$pull`` and the flags cleared with ONE
        conditional ``$unset`` for the whole batch, instead of two writes per document."""
        if not await self._may_publish():
            self._queue.clear()  # the holder's sweep publishes them
            return 0
        published = 0
        while self._queue:
            count = min(len(self._queue), self._batch_size)
            published += await self._relay_batch([self._queue[i] for i in range(count)])
            for _ in range(count):
                self._queue.popleft()
        return published

    async def _relay_batch(self, batch: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> int:
        if len(batch) == 1:
            return await self._relay(*batch[0])
        documents: list[str] = []  # the documents whose events were all handled
        sent: list[str] = []
        try:
            for document_id, raw_events in batch:
                events = self._parse(document_id, raw_events)
                if events is None:
                    continue
                for event in events:
                    await self._publish_once(event)
                    sent.append(event.id)
                documents.append(document_id)
        finally:
            # Event ids are unique: pulling all of them from every document of the batch
            # removes exactly what the broker confirmed, as the one-document path does.
            if sent:
                touched = list(dict.fromkeys(d for d, _ in batch))
                await self._collection.update_many(
                    {"_id": {"$in": touched}}, {"$pull": {OUTBOX: {"id": {"$in": sent}}}}
                )
        if documents:
            await self._collection.update_many(
                {"_id": {"$in": list(dict.fromkeys(documents))}, OUTBOX: {"$size": 0}},
                {"$unset": {OUTBOX_PENDING: ""}},
            )
        return len(sent)

    def _parse(
        self, document_id: str, raw_events: Sequence[dict[str, Any]]
    ) -> list[CloudEvent] | None:
        try:
            return [CloudEvent.model_validate(raw) for raw in raw_events]
        except ValidationError as exc:
            # Cannot happen with events this service wrote; never drop, never block others.
            UNREADABLE_OUTBOX.inc()
            log.error(
                "outbox holds an unreadable event; document skipped",
                extra={"document": str(document_id), "error": str(exc)[:500]},
            )
            return None

    async def _publish_once(self, event: CloudEvent) -> None:
        if not self._lease.held():
            raise LeaseLost(f"relay {self._lease.holder} lost its lease before {event.id}")
        if event.id not in self._recent:
            async with asyncio.timeout(self._publish_timeout):
                await self._publisher.publish(event)
            EVENTS_PUBLISHED.labels(event.type).inc()
            self._remember(event.id)

    async def _relay(self, document_id: str, raw_events: Sequence[dict[str, Any]]) -> int:
        events = self._parse(document_id, raw_events)
        if events is None:
            return 0
        sent: list[str] = []
        try:
            for event in events:
                await self._publish_once(event)
                sent.append(event.id)
        finally:
            # Even when a later publish failed: forget what the broker confirmed. If this
            # write fails too, those events go out again (same id): a duplicate, not a loss.
            if sent:
                await self._collection.update_one(
                    {"_id": document_id}, {"$pull": {OUTBOX: {"id": {"$in": sent}}}}
                )
        # Clear the flag only if nothing was appended meanwhile (atomic, per document).
        await self._collection.update_one(
            {"_id": document_id, OUTBOX: {"$size": 0}}, {"$unset": {OUTBOX_PENDING: ""}}
        )
        return len(sent)

    def _remember(self, event_id: str) -> None:
        self._recent[event_id] = None
        if len(self._recent) > _RECENT_IDS:
            self._recent.popitem(last=False)

    async def run(self) -> None:
        """Relay until cancelled."""
        loop = asyncio.get_running_loop()
        backoff = self._min_backoff
        while not self._stopping:
            self._wakeup.clear()
            if not await self._may_publish():
                # Not ours: the holder publishes (what our process wrote too, by its sweep).
                self._queue.clear()
                self._sweep_needed = True
                await asyncio.sleep(self._lease.retry_every)
                continue
            try:
                if self._sweep_needed:
                    self._sweep_needed = False
                    self._last_sweep = loop.time()
                    await self.drain_once()
                    # A full batch: more may be waiting. A wake() during the sweep asked for
                    # another one (its write may have come after our find): keep that request.
                    self._sweep_needed = self._sweep_needed or self._more
                await self.drain_submitted()
            except asyncio.CancelledError:
                raise
            except LeaseLost as exc:
                log.warning(
                    "outbox relay lost its lease; stops publishing", extra={"error": str(exc)}
                )
                self._queue.clear()
                self._sweep_needed = True
                continue
            except Exception as exc:
                RELAY_FAILURES.inc()
                log.warning(
                    "outbox relay pass failed; events kept, retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in": backoff},
                )
                self._queue.clear()  # the sweep finds them again, in order
                self._sweep_needed = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = self._min_backoff
            if loop.time() - self._last_sweep >= self._max_sweep_interval:
                self._sweep_needed = True
            if self._sweep_needed or self._queue:
                continue
            # Other relays leave their writes' events to our sweep: sweep often then.
            poll = self._poll_interval
            if self._lease.contested:
                poll = min(poll, CONTESTED_POLL_SECONDS)
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                # Woken in time to renew the lease, too.
                async with asyncio.timeout(min(poll, self._lease.renew_every)):
                    await self._wakeup.wait()
            except TimeoutError:
                if loop.time() - self._last_sweep >= poll:
                    self._sweep_needed = True

    async def _may_publish(self) -> bool:
        """Whether this relay holds the lease (taking or renewing it when due)."""
        if self._lease.due():
            await self._keep_lease()
        return self._lease.held()

    async def _keep_lease(self) -> bool:
        try:
            held = await self._lease.acquire_or_renew()
        except Exception as exc:  # the database is unreachable: publish nothing meanwhile
            log.warning("outbox relay cannot renew its lease", extra={"error": repr(exc)})
            held = False
        LEASE_HELD.set(1 if held else 0)
        return held

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")
        return self._task

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stops the relay; pending events stay in the outbox for the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=grace_seconds)
        if not done:
            log.error(
                "outbox relay did not stop in time; abandoned", extra={"grace": grace_seconds}
            )
            return
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
        try:
            await self._lease.release()  # another relay takes over now, not at expiry
        except Exception as exc:
            log.warning("outbox relay could not release its lease", extra={"error": repr(exc)})
        LEASE_HELD.set(0)
