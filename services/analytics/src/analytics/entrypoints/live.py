"""The API process's live feed: its own queue on ``crm.events``, fanned out to subscriptions.

Each API process declares an exclusive, auto-delete, server-named queue bound to
``pipeline.opportunity.#`` (the stage changes themselves) and ``analytics.projection.updated``
(the worker's notice that a pipeline's projections changed). Messages are consumed without
acknowledgement (a subscription is live, not durable: a client that reconnects starts again)
and handed to every listener of the pipeline; a listener's queue is bounded and drops its oldest
item when a slow client falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from analytics.adapters.notices import NOTIFY_TYPE
from analytics.domain.model import InvalidEvent, OpportunityChange
from analytics.entrypoints.messages import notified_pipeline, to_change
from crm_common.amqp import declare_exchange
from crm_common.events import CloudEvent

log = logging.getLogger(__name__)

ROUTING_KEYS = ("pipeline.opportunity.#", NOTIFY_TYPE)
LISTENER_BUFFER = 1000


@dataclass(frozen=True, slots=True)
class Signal:
    """What a listener receives: a stage change, or ``change is None`` for "recompute"."""

    pipeline_id: str
    change: OpportunityChange | None


class Listener:
    def __init__(self, pipeline_id: str | None) -> None:
        self.pipeline_id = pipeline_id
        self.queue: asyncio.Queue[Signal] = asyncio.Queue(LISTENER_BUFFER)

    def offer(self, signal: Signal) -> None:
        if self.pipeline_id is not None and signal.pipeline_id != self.pipeline_id:
            return
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(signal)


class LiveFeed:
    def __init__(self, connection: AbstractRobustConnection) -> None:
        self._connection = connection
        self._channel: AbstractChannel | None = None
        self._listeners: set[Listener] = set()

    async def start(self) -> None:
        self._channel = await self._connection.channel()
        exchange = await declare_exchange(self._channel)
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        for key in ROUTING_KEYS:
            await queue.bind(exchange, routing_key=key)
        await queue.consume(self._on_message, no_ack=True)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = CloudEvent.from_json(message.body)
        except ValueError:
            return
        self.dispatch(event)

    def dispatch(self, event: CloudEvent) -> None:
        if event.type == NOTIFY_TYPE:
            pipeline_id = notified_pipeline(event)
            if pipeline_id is not None:
                self._fan_out(Signal(pipeline_id, None))
            return
        try:
            change = to_change(event)
        except InvalidEvent:
            return
        if change is None or change.pipeline_id is None:
            return
        self._fan_out(Signal(change.pipeline_id, change))

    def _fan_out(self, signal: Signal) -> None:
        for listener in list(self._listeners):
            listener.offer(signal)

    @contextlib.asynccontextmanager
    async def listen(self, pipeline_id: str | None) -> AsyncIterator[Listener]:
        listener = Listener(pipeline_id)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)


__all__ = ["Listener", "LiveFeed", "Signal", "aio_pika"]
