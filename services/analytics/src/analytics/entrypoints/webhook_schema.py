"""Webhooks in the analytics subgraph (admins): ``createWebhook`` (its secret shown once),
``webhooks``, ``deleteWebhook``, ``webhookDeliveries``. ``schema.py`` composes it in."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from analytics.domain.webhooks import Delivery, Webhook
from analytics.entrypoints.context import Context
from analytics.entrypoints.graphql_common import mutation
from analytics.service_layer import webhooks as use_cases
from crm_common import relay
from crm_common.pagination import KeysetCursor, Page, page_size
from crm_common.relay import PageInfo

DELIVERY_CURSORS = KeysetCursor("webhookDeliveries", arity=1)


@strawberry.type(name="Webhook", description="A URL that receives the suite's CloudEvents.")
class WebhookType:
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(
        description="Event types delivered: exact, or a prefix ending in * (pipeline.*)."
    )
    description: str | None
    active: bool = strawberry.field(description="False once disabled after repeated failure.")
    disabled_reason: str | None
    disabled_at: datetime | None
    failures_in_a_row: int
    created_at: datetime
    created_by: strawberry.ID

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookType:
        return cls(
            id=strawberry.ID(webhook.id),
            url=webhook.url,
            event_types=webhook.event_types,
            description=webhook.description,
            active=webhook.active,
            disabled_reason=webhook.disabled_reason,
            disabled_at=webhook.disabled_at,
            failures_in_a_row=webhook.failures_in_a_row,
            created_at=webhook.created_at,
            created_by=strawberry.ID(webhook.created_by),
        )


@strawberry.type(description="A new webhook and its signing secret (shown only this once).")
class CreatedWebhook:
    id: strawberry.ID
    secret: str = strawberry.field(
        description="whsec_ + base64 key: verify webhook-signature (Standard Webhooks) with it."
    )
    webhook: WebhookType


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The webhook-id header (same on retries).")
    event_id: strawberry.ID
    event_type: str
    subject: str
    status: str = strawberry.field(description="PENDING, DELIVERED or FAILED")
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(delivery.id),
            event_id=strawberry.ID(delivery.event_id),
            event_type=delivery.event_type,
            subject=delivery.subject,
            status=delivery.status.value,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo


@strawberry.input
class CreateWebhookInput:
    url: str
    event_types: list[str]
    description: str | None = None


async def resolve_webhooks(info: Info[Context, None]) -> list[WebhookType]:
    found = await use_cases.list_webhooks(
        info.context.identity, store=info.context.resources.webhooks
    )
    return [WebhookType.of(w) for w in found]


async def resolve_webhook_deliveries(
    info: Info[Context, None],
    webhook_id: strawberry.ID,
    first: int | None = None,
    after: str | None = None,
) -> WebhookDeliveryConnection:
    size = page_size(first)
    after_seq = DELIVERY_CURSORS.decode(after)[0] if after is not None else None
    if after_seq is not None and not isinstance(after_seq, int):
        raise DELIVERY_CURSORS._foreign()
    found, seqs = await use_cases.deliveries(
        info.context.identity,
        str(webhook_id),
        size + 1,
        after_seq,
        store=info.context.resources.webhooks,
    )
    cursors = dict(zip((d.id for d in found), seqs, strict=True))
    page = Page.of(
        found[:size],
        lambda d: DELIVERY_CURSORS.encode(cursors[d.id]),
        has_next=len(found) > size,
        after=after,
    )
    edges, page_info = relay.connection(
        page, lambda cursor, d: WebhookDeliveryEdge(cursor=cursor, node=WebhookDelivery.of(d))
    )
    return WebhookDeliveryConnection(edges=edges, page_info=page_info)


@strawberry.type
class WebhookQuery:
    webhooks: list[WebhookType] | None = strawberry.field(
        resolver=resolve_webhooks, description="Every webhook (admins)."
    )
    webhook_deliveries: WebhookDeliveryConnection | None = strawberry.field(
        resolver=resolve_webhook_deliveries,
        description="A webhook's deliveries, newest first, with their attempts (admins).",
    )


@strawberry.type
class WebhookMutation:
    @mutation(
        "Registers a URL for the given event types (admins). Each matching CloudEvent is "
        "POSTed with the Standard Webhooks headers, retried with exponential back-off for a "
        "day, in order per subject; internal addresses are refused unless allowed."
    )
    async def create_webhook(
        self, info: Info[Context, None], input: CreateWebhookInput
    ) -> CreatedWebhook:
        resources = info.context.resources
        webhook = await use_cases.create_webhook(
            info.context.identity,
            input.url,
            input.event_types,
            input.description,
            store=resources.webhooks,
            check_address=resources.webhook_address_check,
        )
        return CreatedWebhook(
            id=strawberry.ID(webhook.id), secret=webhook.secret, webhook=WebhookType.of(webhook)
        )

    @mutation("Removes a webhook and its pending deliveries (admins).")
    async def delete_webhook(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        return await use_cases.delete_webhook(
            info.context.identity, str(id), store=info.context.resources.webhooks
        )
