"""What a GraphQL resolver receives: the caller's identity and the process's resources.

``Resources`` is created once per process in the app's lifespan (never at import time) and
reaches each request through the lifespan state; ``Context`` is built per request (or per
WebSocket connection, whose identity comes from the ``connection_init`` payload).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from analytics.entrypoints.live import LiveFeed
from analytics.service_layer.ports import (
    EventStore,
    ExchangeRates,
    ReadModel,
    ReportingStore,
    WebhookStore,
)
from analytics.service_layer.services import HistoryCache
from analytics.settings import Settings
from crm_common.errors import Unauthenticated
from crm_common.identity import Identity


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    mongo: AsyncMongoClient[dict[str, Any]]
    amqp: AbstractRobustConnection
    read_model: ReadModel
    events: EventStore
    history: HistoryCache
    live: LiveFeed
    rates: ExchangeRates
    reporting: ReportingStore
    webhooks: WebhookStore
    webhook_address_check: Callable[[str], Awaitable[bool]]


@dataclass(slots=True)
class Context:
    resources: Resources
    identity_or_none: Identity | None = None
    #: Set by Strawberry from the WebSocket ``connection_init`` payload.
    connection_params: dict[str, Any] | None = field(default=None)

    @property
    def identity(self) -> Identity:
        if self.identity_or_none is None:
            raise Unauthenticated("missing bearer token")
        return self.identity_or_none
