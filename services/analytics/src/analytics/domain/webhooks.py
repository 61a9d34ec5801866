"""Webhooks: CloudEvents POSTed to the URLs admins registered (Standard Webhooks).

The rules, without I/O:

- a webhook names the event types it wants (exact types, or a prefix ending in ``*``, e.g.
  ``pipeline.opportunity.*``);
- its secret is ``whsec_`` + base64 of 32 random bytes, shown once at creation;
- a failed delivery is retried with exponential back-off (``retry_delay``) until a day after
  the event; deliveries of one subject go out in order (a later one waits for the earlier);
- a webhook is disabled, with the reason, when a delivery has failed for the whole retry
  window or after ``disable_after`` failed attempts in a row;
- only ``http``/``https`` URLs, and never to internal addresses (loopback, private, link
  local, multicast, reserved) unless the installation allows them (``address_allowed``).
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 50
MAX_DESCRIPTION = 500


class WebhookRuleError(ValueError):
    def __init__(self, message: str, code: str, field: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    url: str
    event_types: list[str]
    description: str | None
    secret: str
    created_at: datetime
    created_by: str
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failures_in_a_row: int


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    subject: str
    body: str
    created_at: datetime
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: The first retry's delay; each next one doubles it, up to ``max_delay``.
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=2)
    #: How long after the event a delivery is still tried.
    window: timedelta = timedelta(days=1)
    #: Failed attempts in a row (any delivery of the webhook) after which it is disabled.
    disable_after: int = 100

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        exponent = min(max(attempts - 1, 0), 30)
        delay: timedelta = self.first_delay * (2**exponent)
        return min(delay, self.max_delay)

    def next_attempt(self, created_at: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again, or None when the retry window is over."""
        at = now + self.retry_delay(attempts)
        return at if at <= created_at + self.window else None


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_event_types(types: list[str]) -> list[str]:
    cleaned = sorted({t.strip() for t in types if t.strip()})
    if not cleaned:
        raise WebhookRuleError("name at least one event type", "NO_EVENT_TYPES", "eventTypes")
    if len(cleaned) > MAX_EVENT_TYPES:
        raise WebhookRuleError(
            f"at most {MAX_EVENT_TYPES} event types", "TOO_MANY_EVENT_TYPES", "eventTypes"
        )
    for event_type in cleaned:
        body = event_type.removesuffix("*")
        if "*" in body or not all(part for part in body.rstrip(".").split(".")):
            raise WebhookRuleError(
                f"{event_type!r} is not an event type (or a prefix ending in *)",
                "INVALID_EVENT_TYPE",
                "eventTypes",
            )
    return cleaned


def matches(event_types: list[str], event_type: str) -> bool:
    return any(
        event_type.startswith(t[:-1]) if t.endswith("*") else event_type == t for t in event_types
    )


def check_url(url: str) -> str:
    """Scheme and host of a webhook URL (the address is checked when it is resolved)."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookRuleError("the URL is too long", "INVALID_URL", "url")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRuleError("a webhook URL is http(s)://host/...", "INVALID_URL", "url")
    if parts.username or parts.password:
        raise WebhookRuleError("no credentials in a webhook URL", "INVALID_URL", "url")
    return url.strip()


def is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def address_allowed(host: str, addresses: list[str], allowed_hosts: frozenset[str]) -> bool:
    """Whether a delivery to ``host`` (resolved to ``addresses``) may go out: every address is
    public, or the host (or the address) is on the installation's allow-list."""
    if host in allowed_hosts or "*" in allowed_hosts:
        return True
    return bool(addresses) and all(a in allowed_hosts or not is_internal(a) for a in addresses)
