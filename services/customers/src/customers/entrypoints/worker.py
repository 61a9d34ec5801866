"""The consumer of the funnel's events, run inside the API process (its lifespan).

``pipeline.opportunity.*`` events become deal steps (``entrypoints/messages.py``), recorded as
timeline entries and lifecycle changes (``service_layer/deal_steps.py``). A malformed event,
or one about a customer the archive does not know, is dead-lettered with the reason; other
failures are retried by ``crm_common.amqp.EventConsumer``.
"""

from __future__ import annotations

import asyncio
import weakref

from crm_common.amqp import EventHandler, PoisonMessage
from crm_common.errors import BadUserInput
from crm_common.events import CloudEvent
from crm_common.topology import CUSTOMERS_PIPELINE_EVENTS
from customers.domain.errors import InvalidValue
from customers.entrypoints.messages import InvalidEvent, deal_step
from customers.service_layer.deal_steps import UnknownCustomer, record_deal_step, record_quote
from customers.service_layer.ports import CustomerRepository, InteractionRepository

PIPELINE_EVENT_KEYS = CUSTOMERS_PIPELINE_EVENTS.routing_keys
#: A quote made for a deal: a QUOTE entry of the timeline (the pipeline names its type).
QUOTE_CREATED = "pipeline.quote.created"


def pipeline_event_handler(
    customers: CustomerRepository, interactions: InteractionRepository
) -> EventHandler:
    # Deliveries are handled concurrently (prefetch); the events of one customer are handled
    # one at a time, in delivery order (asyncio locks are fair), so that "opened" is seen
    # before "won" when they arrive in that order.
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle(event: CloudEvent) -> None:
        key = str(event.data.get("customerId") or "")
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        async with lock:
            await _handle(event)

    async def _handle(event: CloudEvent) -> None:
        try:
            if event.type == QUOTE_CREATED:
                await record_quote(event, customers, interactions)
                return
            step = deal_step(event)
            if step is not None:
                await record_deal_step(step, customers, interactions)
        except (InvalidEvent, BadUserInput, InvalidValue, UnknownCustomer) as exc:
            raise PoisonMessage(exc.message) from exc

    return handle
