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

from crm_common.identity import Identity, TokenVerifier
from crm_common.settings import CommonSettings


def _expiry(token: str) -> float:
    """``exp`` of a token that has just verified (so its payload is well-formed JSON)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return float(claims["exp"])


class CachedTokenVerifier(TokenVerifier):
    def __init__(self, settings: CommonSettings, max_size: int = 10_000) -> None:
        super().__init__(settings)
        self._verified: TLRUCache[str, tuple[Identity, float]] = TLRUCache(
            maxsize=max_size, ttu=lambda _token, entry, _now: entry[1], timer=time.time
        )

    def verify(self, token: str) -> Identity:
        entry = self._verified.get(token)
        if entry is not None:
            return entry[0]
        identity = super().verify(token)
        self._verified[token] = (identity, _expiry(token))
        return identity
