"""The webhook dispatcher's rules on an in-memory store (no infrastructure): back-off, one
delivery at a time per subject, disabled with the reason after repeated failure or when the
retry window is over; idle deals follow each stage's rottingDays as the board does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.domain import reports
from analytics.domain.deal import DealState
from analytics.domain.webhooks import (
    Delivery,
    DeliveryStatus,
    RetryPolicy,
    Webhook,
    address_allowed,
    check_event_types,
    matches,
)
from analytics.entrypoints.messages import to_change
from analytics.service_layer.webhooks import Dispatcher, SendResult
from crm_common.events import new_event, utcnow


class MemoryWebhooks:
    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.deliveries: dict[str, dict[str, Any]] = {}

    async def all(self) -> list[Webhook]:
        return [self.webhook]

    async def pending(self, limit: int) -> list[Delivery]:
        rows = sorted(
            (d for d in self.deliveries.values() if d["status"] == "PENDING"),
            key=lambda d: d["seq"],
        )
        return [self._delivery(d) for d in rows[:limit]]

    def _delivery(self, d: dict[str, Any]) -> Delivery:
        return Delivery(
            id=d["_id"],
            webhook_id=d["webhookId"],
            event_id=d["eventId"],
            event_type=d["eventType"],
            subject=d["subject"],
            body=d["body"],
            created_at=d["createdAt"],
            status=DeliveryStatus(d["status"]),
            attempts=d["attempts"],
            next_attempt_at=d["nextAttemptAt"],
            last_status=d.get("lastStatus"),
            last_error=d.get("lastError"),
            delivered_at=d.get("deliveredAt"),
        )

    async def bodies(self, delivery_ids: list[str]) -> dict[str, str]:
        return {key: self.deliveries[key]["body"] for key in delivery_ids}

    async def enqueue(self, deliveries: list[dict[str, Any]]) -> None:
        for d in deliveries:
            self.deliveries.setdefault(d["_id"], d)

    async def delivered(self, delivery_id: str, status: int, at: datetime) -> None:
        d = self.deliveries[delivery_id]
        d.update(status="DELIVERED", deliveredAt=at, attempts=d["attempts"] + 1)

    async def failed_attempt(
        self, delivery_id: str, status: int | None, error: str, next_attempt_at: datetime | None
    ) -> None:
        d = self.deliveries[delivery_id]
        d.update(lastError=error, nextAttemptAt=next_attempt_at, attempts=d["attempts"] + 1)
        if next_attempt_at is None:
            d["status"] = "FAILED"

    async def note_attempt(self, webhook_id: str, succeeded: bool) -> int:
        failures = 0 if succeeded else self.webhook.failures_in_a_row + 1
        self.webhook = _replace(self.webhook, failures_in_a_row=failures)
        return failures

    async def disable(self, webhook_id: str, reason: str, at: datetime) -> None:
        self.webhook = _replace(self.webhook, active=False, disabled_reason=reason)


def _replace(webhook: Webhook, **changes: Any) -> Webhook:
    from dataclasses import replace

    return replace(webhook, **changes)


def _webhook() -> Webhook:
    return Webhook(
        id="w1",
        url="https://example.com/hook",
        event_types=["pipeline.opportunity.*"],
        description=None,
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        created_at=utcnow(),
        created_by="admin-1",
        active=True,
        disabled_reason=None,
        disabled_at=None,
        failures_in_a_row=0,
    )


def _delivery(key: str, subject: str, seq: int, created: datetime) -> dict[str, Any]:
    return {
        "_id": key,
        "webhookId": "w1",
        "eventId": f"e-{key}",
        "eventType": "pipeline.opportunity.updated",
        "subject": subject,
        "body": "{}",
        "createdAt": created,
        "status": "PENDING",
        "attempts": 0,
        "nextAttemptAt": created,
        "seq": seq,
    }


async def test_one_delivery_per_subject_at_a_time_and_back_off() -> None:
    store = MemoryWebhooks(_webhook())
    now = utcnow()
    await store.enqueue(
        [
            _delivery("a1", "deal-a", 1, now),
            _delivery("a2", "deal-a", 2, now),
            _delivery("b1", "deal-b", 3, now),
        ]
    )
    sent: list[str] = []
    answers = {"a1": [500, 200], "a2": [200], "b1": [200]}

    async def send(url: str, secret: str, delivery_id: str, body: str) -> SendResult:
        sent.append(delivery_id)
        status = answers[delivery_id].pop(0)
        return SendResult(status < 300, status, None)

    policy = RetryPolicy(first_delay=timedelta(seconds=5))
    dispatcher = Dispatcher(store, send, policy, wake=asyncio.Event())  # type: ignore[arg-type]
    assert await dispatcher.round(utcnow()) == 2
    assert sorted(sent) == ["a1", "b1"]  # a2 waits behind a1
    assert store.deliveries["a1"]["nextAttemptAt"] > utcnow() + timedelta(seconds=4)
    assert await dispatcher.round(utcnow()) == 0  # a1 not due yet, a2 still behind it
    assert await dispatcher.round(utcnow() + timedelta(seconds=6)) == 1
    assert await dispatcher.round(utcnow() + timedelta(seconds=6)) == 1
    assert sent == ["a1", "b1", "a1", "a2"] or sent == ["b1", "a1", "a1", "a2"]
    assert {d["status"] for d in store.deliveries.values()} == {"DELIVERED"}


async def test_disabled_with_the_reason_after_failures_in_a_row_or_the_window() -> None:
    store = MemoryWebhooks(_webhook())
    now = utcnow()
    await store.enqueue([_delivery(f"d{n}", f"deal-{n}", n, now) for n in range(3)])

    async def failing(url: str, secret: str, delivery_id: str, body: str) -> SendResult:
        return SendResult(False, 503, None)

    policy = RetryPolicy(disable_after=3)
    dispatcher = Dispatcher(store, failing, policy, wake=asyncio.Event())  # type: ignore[arg-type]
    await dispatcher.round(utcnow())
    assert store.webhook.active is False
    assert store.webhook.disabled_reason == "3 failed attempts in a row; last: HTTP 503"
    assert await dispatcher.round(utcnow() + timedelta(days=2)) == 0  # disabled: nothing sent

    store = MemoryWebhooks(_webhook())
    old = utcnow() - timedelta(days=1)
    await store.enqueue([_delivery("late", "deal-x", 1, old)])
    dispatcher = Dispatcher(store, failing, RetryPolicy(), wake=asyncio.Event())  # type: ignore[arg-type]
    await dispatcher.round(utcnow())
    assert store.deliveries["late"]["status"] == "FAILED"
    assert store.webhook.active is False
    assert "failed for 1 day, 0:00:00" in (store.webhook.disabled_reason or "")


def test_back_off_doubles_up_to_the_maximum_within_a_day() -> None:
    policy = RetryPolicy()
    delays = [policy.retry_delay(n).total_seconds() for n in range(1, 14)]
    assert delays[:4] == [5, 10, 20, 40]
    assert max(delays) == 7200
    start = datetime(2026, 1, 1, tzinfo=UTC)
    last_day = start + timedelta(hours=23, minutes=59)
    assert policy.next_attempt(start, 1, last_day) == last_day + timedelta(seconds=5)
    assert policy.next_attempt(start, 1, last_day + timedelta(seconds=56)) is None


def test_event_types_and_addresses() -> None:
    assert check_event_types(["pipeline.opportunity.won", " pipeline.* "]) == [
        "pipeline.*",
        "pipeline.opportunity.won",
    ]
    assert matches(["pipeline.*"], "pipeline.opportunity.lost")
    assert not matches(["pipeline.opportunity.won"], "pipeline.opportunity.lost")
    assert not address_allowed("internal.example", ["10.0.0.8"], frozenset())
    assert not address_allowed("metadata", ["169.254.169.254"], frozenset())
    assert not address_allowed("v6", ["::1"], frozenset())
    assert address_allowed("example.com", ["93.184.215.14"], frozenset())
    assert address_allowed("localhost", ["127.0.0.1"], frozenset({"127.0.0.1"}))


def test_idle_deals_use_the_stage_rotting_days_the_events_carry() -> None:
    # The board's rule: Initial contact rots at 14 days (not the analytics default of 30).
    stage = {"id": "s1", "name": "Initial contact", "order": 1, "kind": "OPEN"}
    stage = {**stage, "probability": 0.1, "rottingDays": 14}
    changed = datetime(2026, 11, 1, tzinfo=UTC)
    event = new_event(
        source="test",
        type="pipeline.opportunity.created",
        subject="o1",
        sequence=1,
        data={
            "opportunityId": "o1",
            "customerId": "c1",
            "pipelineId": "p1",
            "ownerId": "rep-1",
            "title": "t",
            "amount": {"amount": "1.00", "currency": "EUR"},
            "status": "OPEN",
            "fromStage": None,
            "toStage": stage,
            "stages": [stage],
            "changedAt": "2026-11-01T00:00:00.000Z",
        },
        at=changed,
    )
    change = to_change(event)
    assert change is not None
    assert change.to_stage is not None
    assert change.to_stage.rotting_days == 14
    deal = DealState(opportunity_id="o1")
    deal.apply(change)
    assert not reports.is_idle(deal, deal.stage, changed + timedelta(days=13), None)
    assert reports.is_idle(deal, deal.stage, changed + timedelta(days=15), None)
