"""What a GraphQL resolver receives: the caller's identity and the process's resources.

``Resources`` is created once per process in the app's lifespan (never at import time) and
reaches each request through the lifespan state; ``Context`` is built per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient
from starlette.requests import HTTPConnection

from analytics.service_layer.ports import FunnelReadModel
from analytics.settings import Settings
from crm_common.errors import Unauthenticated
from crm_common.identity import Identity


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    mongo: AsyncMongoClient[dict[str, Any]]
    amqp: AbstractRobustConnection
    funnel_read_model: FunnelReadModel


@dataclass(frozen=True, slots=True)
class Context:
    identity: Identity
    resources: Resources


def resources_of(connection: HTTPConnection) -> Resources:
    resources = connection.scope.get("state", {}).get("resources")
    if not isinstance(resources, Resources):
        raise RuntimeError("the app's lifespan did not run: no resources in the request state")
    return resources


def identity_of(connection: HTTPConnection) -> Identity:
    identity = connection.scope.get("state", {}).get("identity")
    if not isinstance(identity, Identity):
        # IdentityMiddleware guards /graphql; reaching here without one is a wiring error,
        # and refusing is the only safe answer.
        raise Unauthenticated("missing bearer token")
    return identity
