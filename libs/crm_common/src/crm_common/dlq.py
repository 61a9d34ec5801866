"""``crm-dlq list|replay QUEUE``: the dead-lettered messages of a consumer, and their replay
after a fix.

Every consumer queue ``<name>`` has a dead-letter queue ``<name>.dlq`` (crm_common.amqp); each
message there carries why it was refused (``x-death-reason``). ``list`` prints one JSON line per
message (id, type, subject, reason) and leaves them in place; ``replay`` sends each one back to
``<name>`` itself (through the default exchange: only the consumer that refused it sees it
again, not every consumer of the event) and removes it from the dead-letter queue once the
broker has confirmed the copy. ``QUEUE`` is the consumer's queue name, with or without
``.dlq`` (e.g. ``crm.customers.pipeline-events``). ``AMQP_URL`` names the broker (and vhost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _names(queue: str) -> tuple[str, str]:
    name = queue.removesuffix(".dlq")
    return name, f"{name}.dlq"


def _describe(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = dict(message.headers or {})
    try:
        body = json.loads(message.body)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return {
        "id": message.message_id or body.get("id"),
        "type": body.get("type"),
        "subject": body.get("subject"),
        "reason": str(headers.get("x-death-reason") or ""),
        "routingKey": str(headers.get("x-original-routing-key") or ""),
    }


async def list_messages(url: str, queue: str, limit: int = 10_000) -> list[dict[str, Any]]:
    """The messages of the dead-letter queue, left in place (unacked, then requeued)."""
    _, dlq = _names(queue)
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        source = await channel.declare_queue(dlq, passive=True)
        seen: list[AbstractIncomingMessage] = []
        while len(seen) < limit:
            message = await source.get(no_ack=False, fail=False)
            if message is None:
                break
            seen.append(message)
        described = [_describe(m) for m in seen]
        for message in seen:
            await message.nack(requeue=True)
        return described
    finally:
        await connection.close()


async def replay_messages(url: str, queue: str, limit: int = 10_000) -> int:
    """Send every dead-lettered message back to its consumer's queue; returns how many."""
    name, dlq = _names(queue)
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        source = await channel.declare_queue(dlq, passive=True)
        await channel.declare_queue(name, passive=True)  # the consumer's queue must exist
        replayed = 0
        while replayed < limit:
            message = await source.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in ("x-death-reason", "x-death")
            }
            headers["x-replayed-from"] = dlq
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=name,
            )
            await message.ack()  # after the broker confirmed the copy: never lost
            replayed += 1
        return replayed
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-dlq", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue", help="the consumer's queue (with or without .dlq)")
    parser.add_argument("--limit", type=int, default=10_000)
    args = parser.parse_args(argv)
    url = os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL
    try:
        if args.command == "list":
            for entry in asyncio.run(list_messages(url, args.queue, args.limit)):
                print(json.dumps(entry, ensure_ascii=False))
        else:
            count = asyncio.run(replay_messages(url, args.queue, args.limit))
            print(f"replayed {count} message(s) to {_names(args.queue)[0]}")
    except aio_pika.exceptions.ChannelClosed as exc:
        print(f"crm-dlq: {exc}", file=sys.stderr)
        return 2
    return 0


def run() -> None:
    raise SystemExit(main())
