"""The worker's change signal ``analytics.projection.updated`` as really emitted (the worker's
``Notifier`` through the broker) matches its contract, and the API's live feed understands it."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from event_contracts import problems
from story import Story

from analytics.adapters.notices import NOTIFY_TYPE
from analytics.entrypoints.live import Listener, LiveFeed
from analytics.entrypoints.messages import to_change
from analytics.entrypoints.worker import Notifier
from crm_common.amqp import EventPublisher, declare_exchange
from crm_common.events import CloudEvent


async def test_the_emitted_projection_notice_matches_its_contract(
    amqp_connection: AbstractRobustConnection,
) -> None:
    story = Story(prefix="notice-")
    story.create(datetime(2026, 3, 2, tzinfo=UTC))
    change = to_change(story.events[0])
    assert change is not None
    channel = await amqp_connection.channel()
    queue = await channel.declare_queue(f"analytics.test.notice.{uuid.uuid4()}", exclusive=True)
    await queue.bind(await declare_exchange(channel), routing_key=NOTIFY_TYPE)
    publisher = EventPublisher(amqp_connection)
    stop = asyncio.Event()
    notifier = Notifier(publisher, every=0.01)
    running = asyncio.create_task(notifier.run(stop))
    try:
        notifier.touch([change])
        body: dict[str, Any] | None = None
        async with asyncio.timeout(15):
            while body is None:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.05)
                    continue
                candidate = json.loads(message.body)
                if candidate["subject"] == story.pipeline_id:
                    body = candidate
    finally:
        stop.set()
        await running
        await publisher.close()
        await channel.close()
    assert problems(body) == []
    assert body["type"] == NOTIFY_TYPE
    assert body["data"] == {"pipelineId": story.pipeline_id}
    # The contract refuses what a consumer could not use.
    assert problems({**body, "data": {}}) != []
    assert problems({**body, "data": {"pipelineId": story.pipeline_id, "extra": 1}}) != []
    # The API's live feed turns it into a "recompute" signal for that pipeline's listeners.
    feed = LiveFeed(amqp_connection)
    async with feed.listen(story.pipeline_id) as listener:
        assert isinstance(listener, Listener)
        feed.dispatch(CloudEvent.model_validate(body))
        signal = listener.queue.get_nowait()
    assert (signal.pipeline_id, signal.change) == (story.pipeline_id, None)
