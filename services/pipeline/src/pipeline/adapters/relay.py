"""The outbox relay: publishes the events that commands left in opportunity documents.

A command writes its change and its CloudEvents in one document write (``outbox`` array,
``outbox_pending`` flag). The relay:

1. finds documents whose ``outbox_pending`` is true (sparse index);
2. publishes each document's events in array order (= version order) and waits for the
   broker's confirm of each;
3. removes exactly the published events with ``$pull`` by event id (events appended
   meanwhile stay), then clears the flag only if the outbox is empty at that instant;
4. on any error (broker down, nack, database hiccup) logs it, keeps the events, backs off
   exponentially and tries again; nothing is ever dropped.

It is woken right after each write of its own process (``wake``) and sweeps every
``poll_interval`` seconds anyway, which covers writes of other processes and whatever a crash
left behind. A crash after the write and before the publish delays the event; a crash after
the publish and before the ``$pull`` publishes it again later with the same id (consumers are
idempotent). Run one relay per database for strict per-opportunity ordering (the API's or the
``pipeline-relay`` process's, not both); two relays only cause duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from crm_common.events import CloudEvent

log = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter(
    "pipeline_outbox_events_published_total", "Outbox events published with a confirm", ["type"]
)
RELAY_FAILURES = Counter("pipeline_outbox_relay_failures_total", "Failed relay passes")
UNREADABLE_OUTBOX = Counter(
    "pipeline_outbox_unreadable_total", "Outbox documents skipped: an event did not parse"
)
PENDING_DOCUMENTS = Gauge(
    "pipeline_outbox_pending_documents", "Documents with pending events seen by the last pass"
)


class Publisher(Protocol):
    async def publish(self, event: CloudEvent) -> None: ...


class OutboxRelay:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        publisher: Publisher,
        *,
        poll_interval: float = 2.0,
        batch_size: int = 100,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        publish_timeout: float = 15.0,
    ) -> None:
        self._collection = collection
        self._publisher = publisher
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._publish_timeout = publish_timeout
        self._more = False
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Ask for a pass now (called right after a write). Safe to call at any time."""
        self._wakeup.set()

    async def drain_once(self) -> int:
        """One pass over (at most ``batch_size``) documents with pending events; returns the
        number of events published. Raises on the first publishing error, after having
        removed what was already published."""
        published = 0
        cursor = self._collection.find(
            {"outbox_pending": True}, {"outbox": 1}, limit=self._batch_size
        )
        docs = [doc async for doc in cursor]
        PENDING_DOCUMENTS.set(len(docs))
        self._more = len(docs) >= self._batch_size
        for doc in docs:
            published += await self._relay_document(doc)
        return published

    async def _relay_document(self, doc: dict[str, Any]) -> int:
        try:
            events = [CloudEvent.model_validate(raw) for raw in doc.get("outbox") or []]
        except ValidationError as exc:
            # Cannot happen with events this service wrote; never drop, never block others.
            UNREADABLE_OUTBOX.inc()
            log.error(
                "outbox holds an unreadable event; document skipped",
                extra={"document": str(doc["_id"]), "error": str(exc)[:500]},
            )
            return 0
        sent: list[str] = []
        try:
            for event in events:
                await asyncio.wait_for(self._publisher.publish(event), self._publish_timeout)
                EVENTS_PUBLISHED.labels(event.type).inc()
                sent.append(event.id)
        finally:
            # Even when a later publish failed: forget what the broker confirmed. If this
            # write fails too, those events go out again (same id): a duplicate, not a loss.
            if sent:
                await self._collection.update_one(
                    {"_id": doc["_id"]}, {"$pull": {"outbox": {"id": {"$in": sent}}}}
                )
        # Clear the flag only if nothing was appended meanwhile (atomic, per document).
        await self._collection.update_one(
            {"_id": doc["_id"], "outbox": {"$size": 0}}, {"$unset": {"outbox_pending": ""}}
        )
        return len(sent)

    async def run(self) -> None:
        """Relay until cancelled."""
        backoff = self._min_backoff
        while True:
            self._wakeup.clear()
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                RELAY_FAILURES.inc()
                log.warning(
                    "outbox relay pass failed; events kept, retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = self._min_backoff
            if self._more:
                continue  # a full batch: more may be waiting, go again at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
