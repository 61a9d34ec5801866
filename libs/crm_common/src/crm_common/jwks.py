"""The identity provider's signing keys (JWKS), fetched without blocking the event loop.

PyJWT's ``PyJWKClient`` fetches with ``urllib``: called from a request handler it would stall
every request of the process while the identity provider answers. Here the fetch runs in a
worker thread (``asyncio.to_thread``), one at a time (concurrent requests wait for the same
fetch), and the keys are kept by ``kid`` for ``JWT_JWKS_CACHE_SECONDS``. A token signed with a
``kid`` not in the cache (the provider rotated its keys) triggers one refresh; refreshes forced
by unknown ``kid``s are at most one per ``min_refresh_seconds``, so a flood of made-up ``kid``s
cannot turn into a flood of requests to the provider. When a refresh fails, the keys fetched
before keep working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt

from crm_common.errors import Unauthenticated

log = logging.getLogger(__name__)


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300,
        min_refresh_seconds: float = 10,
        timeout_seconds: float = 5,
    ) -> None:
        # Used for fetching and parsing only: the caching is ours.
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, timeout=int(timeout_seconds))
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._forced_at = float("-inf")  # the last refresh an unknown kid asked for
        self._failed_at = float("-inf")  # the last fetch that failed
        self._lock: asyncio.Lock | None = None

    def _fresh(self) -> bool:
        return time.monotonic() - self._fetched_at < self._cache_seconds

    def cached(self, kid: str | None) -> Any | None:
        """The key of ``kid`` if it is cached and the cache is fresh (no I/O)."""
        if kid is None or not self._fresh():
            return None
        return self._keys.get(kid)

    async def key(self, token: str) -> Any:
        """The key that signed ``token``, fetching the key set if needed; ``Unauthenticated``
        for a token of a ``kid`` the provider does not publish."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("invalid token: no kid in its header")
        key = self.cached(kid)
        if key is not None:
            return key
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            key = self.cached(kid)
            if key is None:
                # A fresh set without this kid: the provider may have rotated (forced refresh,
                # rate-limited); otherwise the set is missing or old (a due refresh).
                await self._refresh(forced=self._fresh())
                key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(f"invalid token: unknown signing key {kid[:64]!r}")
        return key

    async def _refresh(self, *, forced: bool) -> None:
        now = time.monotonic()
        last = self._forced_at if forced else self._failed_at
        if now - last < self._min_refresh:
            return  # tried moments ago: an unknown kid stays unknown until the next try
        if forced:
            self._forced_at = now
        try:
            key_set = await asyncio.to_thread(self._client.get_jwk_set)
        except jwt.PyJWTError as exc:
            self._failed_at = now
            log.warning("JWKS fetch failed; keeping the keys fetched before", exc_info=exc)
            return
        self._keys = {k.key_id: k.key for k in key_set.keys if k.key_id}
        self._fetched_at = time.monotonic()
