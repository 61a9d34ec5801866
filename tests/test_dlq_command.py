"""``crm-dlq list|replay QUEUE``: dead-lettered messages are listed with their reason (and
left in place), then replayed to the consumer's own queue after a fix."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

import aio_pika
import pytest

from crm_common.amqp import DEAD_LETTER_EXCHANGE, declare_consumer_queue
from support.infrastructure import Infrastructure

ROOT = Path(__file__).resolve().parents[1]


def crm_dlq(amqp_url: str, *args: str) -> str:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "crm-dlq"), *args],
        env={**os.environ, "AMQP_URL": amqp_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.asyncio
async def test_list_then_replay_dead_letters(infrastructure: Infrastructure) -> None:
    url = infrastructure.amqp_url
    name = f"test-dlq-{uuid.uuid4().hex[:8]}.consumer"
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await declare_consumer_queue(channel, name, ["test.dlq.#"])
        dlx = await channel.get_exchange(DEAD_LETTER_EXCHANGE)
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for event_id in ids:
            body = json.dumps({"id": event_id, "type": "test.dlq.thing", "subject": "s-1"})
            await dlx.publish(
                aio_pika.Message(
                    body=body.encode(),
                    message_id=event_id,
                    headers={"x-death-reason": "title: must not contain control characters"},
                ),
                routing_key=name,
            )
        listed = [json.loads(line) for line in crm_dlq(url, "list", name).splitlines()]
        assert sorted(e["id"] for e in listed) == sorted(ids)
        assert {e["reason"] for e in listed} == {"title: must not contain control characters"}
        # Listing left them there; replay sends them back to the consumer's queue.
        assert "replayed 3" in crm_dlq(url, "replay", f"{name}.dlq")
        assert crm_dlq(url, "list", name) == ""
        # A consumer queue has a single active consumer, which refuses basic.get: subscribe.
        back: list[aio_pika.abc.AbstractIncomingMessage] = []
        arrived = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            back.append(message)
            await message.ack()
            if len(back) == len(ids):
                arrived.set()

        tag = await queue.consume(on_message)
        async with asyncio.timeout(20):
            await arrived.wait()
        await queue.cancel(tag)
        assert sorted(m.message_id or "" for m in back) == sorted(ids)
        for message in back:
            assert (message.headers or {}).get("x-replayed-from") == f"{name}.dlq"
    finally:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.queue_delete(f"{name}.dlq")
        await connection.close()
