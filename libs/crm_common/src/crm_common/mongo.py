"""The MongoDB client every service opens in its lifespan, instrumented.

Every command sent to MongoDB is counted in ``crm_mongo_commands_total`` (by command and
database) and exposed on ``/metrics``, so that "one query per ``_entities`` request" is a fact
a test can read, not a hope.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from pymongo import AsyncMongoClient, monitoring

MONGO_COMMANDS = Counter(
    "crm_mongo_commands_total", "MongoDB commands sent, by command name", ["command", "database"]
)

# Commands that are connection housekeeping, not queries a request caused.
_HOUSEKEEPING = frozenset(
    {"hello", "ismaster", "isMaster", "ping", "endSessions", "saslStart", "saslContinue"}
)
#: Collections of housekeeping too: the outbox relays' lease renewals (crm_common.outbox_lease)
#: come every few seconds whatever the requests, so they are counted apart.
_HOUSEKEEPING_COLLECTIONS = frozenset({"relay_leases"})
LEASE_COMMANDS = Counter(
    "crm_mongo_housekeeping_commands_total",
    "MongoDB commands of the process's own housekeeping (relay leases), by command name",
    ["command", "database"],
)


class _CommandCounter(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _HOUSEKEEPING:
            return
        if event.command.get(event.command_name) in _HOUSEKEEPING_COLLECTIONS:
            LEASE_COMMANDS.labels(event.command_name, event.database_name).inc()
            return
        MONGO_COMMANDS.labels(event.command_name, event.database_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def connect_mongo(url: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    """Create the client (it connects lazily); close it with ``await client.close()``."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        event_listeners=[_CommandCounter()],
    )


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
