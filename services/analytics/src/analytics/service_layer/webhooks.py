"""Webhook use cases: admin CRUD, the fan-out of each stored event into deliveries, and the
dispatcher that sends them (signed, retried with back-off, in order per subject)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.domain.webhooks import (
    MAX_DESCRIPTION,
    Delivery,
    RetryPolicy,
    Webhook,
    WebhookRuleError,
    check_event_types,
    check_url,
    matches,
    new_secret,
)
from analytics.service_layer.ports import WebhookStore
from crm_common import access
from crm_common.errors import BadUserInput, Forbidden, NotFound
from crm_common.events import CloudEvent, utcnow
from crm_common.identity import Identity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None


#: POSTs one delivery (url, secret, delivery id, body) and says how it went.
Send = Callable[[str, str, str, str], Awaitable[SendResult]]
#: Whether a URL may be delivered to (its host resolved against the allow-list).
CheckAddress = Callable[[str], Awaitable[bool]]


def _admin(viewer: Identity) -> None:
    if not access.is_admin(viewer):
        raise Forbidden("webhooks are managed by admins")


async def create_webhook(
    viewer: Identity,
    url: str,
    event_types: list[str],
    description: str | None,
    *,
    store: WebhookStore,
    check_address: CheckAddress,
) -> Webhook:
    _admin(viewer)
    try:
        clean_url = check_url(url)
        types = check_event_types(event_types)
    except WebhookRuleError as exc:
        raise BadUserInput(str(exc), reason=exc.code, field=exc.field) from exc
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise BadUserInput("description is too long", reason="TOO_LONG", field="description")
    if not await check_address(clean_url):
        raise BadUserInput(
            "the URL's host is an internal address, which this installation does not allow",
            reason="URL_NOT_ALLOWED",
            field="url",
        )
    webhook = Webhook(
        id=str(uuid.uuid4()),
        url=clean_url,
        event_types=types,
        description=description,
        secret=new_secret(),
        created_at=utcnow(),
        created_by=viewer.user_id,
        active=True,
        disabled_reason=None,
        disabled_at=None,
        failures_in_a_row=0,
    )
    await store.add(webhook)
    return webhook


async def list_webhooks(viewer: Identity, *, store: WebhookStore) -> list[Webhook]:
    _admin(viewer)
    return await store.all()


async def delete_webhook(viewer: Identity, webhook_id: str, *, store: WebhookStore) -> bool:
    _admin(viewer)
    if not await store.delete(webhook_id):
        raise NotFound(f"webhook {webhook_id} does not exist", webhookId=webhook_id)
    return True


async def deliveries(
    viewer: Identity, webhook_id: str, first: int, after_seq: int | None, *, store: WebhookStore
) -> tuple[list[Delivery], list[int]]:
    _admin(viewer)
    if await store.get(webhook_id) is None:
        raise NotFound(f"webhook {webhook_id} does not exist", webhookId=webhook_id)
    return await store.page(webhook_id, first, after_seq)


class WebhookFanOut:
    """Turns each received event into one pending delivery per matching active webhook.

    The webhooks are cached, but an event never misses a webhook created before it happened:
    the cache is read again when it was read before the event's time (plus ``skew`` for the
    clocks of the API and the worker), and at least every ``refresh`` seconds. Handlers that
    need a fresh list at the same moment share one read."""

    def __init__(
        self, store: WebhookStore, refresh: float = 5.0, skew: timedelta = timedelta(seconds=1)
    ) -> None:
        self._store = store
        self._refresh = refresh
        self._skew = skew
        self._webhooks: list[Webhook] = []
        self._read_at: datetime | None = None
        self._read_monotonic = float("-inf")
        self._lock = asyncio.Lock()
        self.wake = asyncio.Event()

    def _stale(self, happened: datetime) -> bool:
        return (
            self._read_at is None
            or self._read_at <= happened + self._skew
            or time.monotonic() - self._read_monotonic > self._refresh
        )

    async def _current(self, happened: datetime) -> list[Webhook]:
        if self._stale(happened):
            async with self._lock:
                if self._stale(happened):
                    started, monotonic = utcnow(), time.monotonic()
                    self._webhooks = [w for w in await self._store.all() if w.active]
                    self._read_at, self._read_monotonic = started, monotonic
        return self._webhooks

    async def __call__(self, event: CloudEvent) -> None:
        try:
            happened = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
        except ValueError:
            happened = utcnow()
        targets = [w for w in await self._current(happened) if matches(w.event_types, event.type)]
        if not targets:
            return
        body = event.to_json().decode()
        now = utcnow()
        base = time.time_ns()
        await self._store.enqueue(
            [
                {
                    "_id": f"msg_{uuid.uuid4().hex}",
                    "webhookId": webhook.id,
                    "eventId": event.id,
                    "eventType": event.type,
                    "subject": event.subject,
                    "eventSequence": event.sequence,
                    "body": body,
                    "createdAt": now,
                    "status": "PENDING",
                    "attempts": 0,
                    "nextAttemptAt": now,
                    "seq": base + index,
                }
                for index, webhook in enumerate(targets)
            ]
        )
        self.wake.set()


class Dispatcher:
    """Sends the pending deliveries: per webhook and subject only the oldest pending one (so a
    subject's events arrive in order, a failing one holding the later ones back), at most
    ``concurrency`` at a time."""

    def __init__(
        self,
        store: WebhookStore,
        send: Send,
        policy: RetryPolicy,
        *,
        wake: asyncio.Event,
        concurrency: int = 32,
        scan: int = 2000,
        idle_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._send = send
        self._policy = policy
        self._wake = wake
        self._slots = asyncio.Semaphore(concurrency)
        self._scan = scan
        self._idle = idle_seconds

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.round(utcnow())
            except Exception as exc:  # MongoDB away: try again later
                log.warning("webhook dispatch failed", extra={"error": repr(exc)})
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, stop)]
            await asyncio.wait(waits, timeout=self._idle, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()

    async def round(self, now: datetime) -> int:
        """One pass: send what is due now; returns how many were attempted."""
        webhooks = {w.id: w for w in await self._store.all()}
        heads: dict[tuple[str, str], Delivery] = {}
        for delivery in await self._store.pending(self._scan):
            heads.setdefault((delivery.webhook_id, delivery.subject), delivery)
        due = [
            d
            for d in heads.values()
            if d.webhook_id in webhooks
            and webhooks[d.webhook_id].active
            and (d.next_attempt_at is None or d.next_attempt_at <= now)
        ]
        bodies = await self._store.bodies([d.id for d in due]) if due else {}
        await asyncio.gather(
            *(self._attempt(webhooks[d.webhook_id], d, bodies.get(d.id, d.body)) for d in due)
        )
        return len(due)

    async def _attempt(self, webhook: Webhook, delivery: Delivery, body: str) -> None:
        async with self._slots:
            result = await self._send(webhook.url, webhook.secret, delivery.id, body)
        now = utcnow()
        if result.ok:
            await self._store.delivered(delivery.id, result.status or 200, now)
            if webhook.failures_in_a_row:  # a success ends a run of failures
                await self._store.note_attempt(webhook.id, succeeded=True)
            return
        error = result.error or f"HTTP {result.status}"
        retry_at = self._policy.next_attempt(delivery.created_at, delivery.attempts + 1, now)
        await self._store.failed_attempt(delivery.id, result.status, error, retry_at)
        in_a_row = await self._store.note_attempt(webhook.id, succeeded=False)
        if retry_at is None:
            await self._store.disable(
                webhook.id,
                f"delivery {delivery.id} of {delivery.event_type} failed for "
                f"{self._policy.window} ({delivery.attempts + 1} attempts); last: {error}",
                now,
            )
        elif in_a_row >= self._policy.disable_after:
            await self._store.disable(
                webhook.id, f"{in_a_row} failed attempts in a row; last: {error}", now
            )
