"""Verified tokens remembered until they expire, so a client's repeated requests skip the JWT
work (PyJWT prepares the key and checks the signature on every call: in a profile of the
gateway's three-fetch plan it was the largest single cost of a request).

Only tokens that verified are kept, each until its own ``exp`` (wall clock, as JWT says), in a
bounded least-recently-used map: a flood of distinct tokens evicts, it cannot grow memory.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cachetools import TLRUCache

from crm_common.errors import Unauthenticated
from crm_common.identity import Identity, TokenVerifier
from crm_common.settings import CommonSettings


def _claims(token: str) -> dict[str, Any]:
    """The payload of a token that verified (so it is well-formed JSON)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _expiry(token: str) -> float:
    """``exp`` of a token that has just verified."""
    return float(_claims(token)["exp"])


def _young_enough(token: str, seconds: float) -> bool:
    issued = _claims(token).get("iat")
    return isinstance(issued, int | float) and time.time() - issued <= seconds


class CachedTokenVerifier(TokenVerifier):
    def __init__(self, settings: CommonSettings, max_size: int = 10_000) -> None:
        super().__init__(settings)
        self._verified: TLRUCache[str, tuple[Identity, float]] = TLRUCache(
            maxsize=max_size, ttu=lambda _token, entry, _now: entry[1], timer=time.time
        )

    def _remembered(self, token: str) -> Identity | None:
        entry = self._verified.get(token)
        if entry is None:
            return None
        identity, _ = entry
        if self._max_age is not None and not _young_enough(token, self._max_age + self._leeway):
            # Remembered until exp, but JWT_MAX_AGE_SECONDS may end it earlier.
            del self._verified[token]
            raise Unauthenticated(f"invalid token: older than {self._max_age} seconds")
        return identity

    def verify(self, token: str) -> Identity:
        identity = self._remembered(token)
        if identity is None:
            identity = super().verify(token)
            self._verified[token] = (identity, _expiry(token))
        return identity

    async def averify(self, token: str) -> Identity:
        identity = self._remembered(token)
        if identity is None:
            identity = await super().averify(token)
            self._verified[token] = (identity, _expiry(token))
        return identity
