"""The webhooks' HTTP side: a delivery POSTed with the Standard Webhooks headers (signed by
the ``standardwebhooks`` library), and the address check that keeps deliveries away from
internal addresses unless the installation allows them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
from standardwebhooks.webhooks import Webhook as Signer

from analytics.domain.webhooks import address_allowed
from analytics.service_layer.webhooks import SendResult

USER_AGENT = "crm-suite-webhooks/1"


def signed_headers(secret: str, delivery_id: str, body: str, at: datetime) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (v1, HMAC-SHA256 over
    ``id.timestamp.body`` with the secret's bytes)."""
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(delivery_id, at, body),
    }


class AddressCheck:
    """Resolves a URL's host and says whether a delivery may go there."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self.allowed = frozenset(h.strip() for h in allowed_hosts if h.strip())

    async def __call__(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        if host in self.allowed or "*" in self.allowed:
            return True
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError:
            return False
        addresses = sorted({str(info[4][0]) for info in infos})
        return address_allowed(host, addresses, self.allowed)


class HttpSender:
    """POSTs deliveries (one shared connection pool); a 2xx answer within ``timeout`` seconds
    is a success, anything else (or no answer) a failed attempt."""

    def __init__(self, check: AddressCheck, timeout: float = 15.0) -> None:
        self._check = check
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, url: str, secret: str, delivery_id: str, body: str) -> SendResult:
        # Checked again at every attempt: a host may resolve elsewhere since its creation.
        if not await self._check(url):
            return SendResult(False, None, "the host resolves to an internal address")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(secret, delivery_id, body, datetime.now(UTC)),
        }
        try:
            async with self._session.post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                ok = 200 <= response.status < 300
                return SendResult(ok, response.status, None if ok else f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendResult(False, None, f"{type(exc).__name__}: {exc}"[:300])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
