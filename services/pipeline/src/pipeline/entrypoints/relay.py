"""``pipeline-relay``: the outbox relay as its own process.

Run it when the API runs with ``PIPELINE_RELAY_ENABLED=false`` (one relay per database keeps
per-opportunity order). It sweeps every ``PIPELINE_RELAY_POLL_INTERVAL`` seconds, publishes
pending events with confirms and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from crm_common.amqp import EventPublisher, connect
from crm_common.logging import configure_logging
from crm_common.mongo import connect_mongo
from crm_common.outbox import OutboxRelay
from pipeline.adapters.mongo import OPPORTUNITIES, create_indexes
from pipeline.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    mongo = connect_mongo(settings.mongodb_url, "crm-pipeline-relay")
    try:
        db = mongo[settings.database]
        await create_indexes(db)
        amqp = await connect(settings.amqp_url)
        publisher = EventPublisher(amqp, instance=settings.instance)
        relay = OutboxRelay(
            db[OPPORTUNITIES],
            publisher,
            poll_interval=settings.relay_poll_interval,
            batch_size=settings.relay_batch_size,
            max_backoff=settings.relay_max_backoff,
        )
        try:
            relay.start()
            log.info("pipeline relay running", extra={"database": settings.database})
            await stop.wait()
        finally:
            await relay.stop()
            await publisher.close()
            await amqp.close()
    finally:
        await mongo.close()


async def _main() -> None:
    settings = Settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


def run() -> None:
    configure_logging("pipeline-relay", Settings().log_level)
    asyncio.run(_main())


if __name__ == "__main__":
    run()
