"""Who is calling: verification of the bearer JWT, shared by the gateway and every subgraph.

The gateway verifies the client's token and forwards it unchanged in ``Authorization``; each
subgraph verifies it again, because subgraphs do not trust the network (DESIGN.md, Identity).
HS256 with ``JWT_SECRET`` in development, RS256 through ``JWT_JWKS_URL`` in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from crm_common.errors import Unauthenticated
from crm_common.settings import CommonSettings

ROLES = ("rep", "manager", "admin", "service")


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    name: str
    roles: frozenset[str]
    team: str | None = None
    token: str = field(default="", repr=False, compare=False)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class TokenVerifier:
    """Verifies tokens with the secret or the JWKS named in the settings."""

    def __init__(self, settings: CommonSettings) -> None:
        self._secret = settings.jwt_secret if not settings.jwt_jwks_url else None
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self._audience = settings.jwt_audience

    def verify(self, token: str) -> Identity:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(r in ROLES for r in roles):
            raise Unauthenticated(f"invalid token: roles must be a subset of {list(ROLES)}")
        return Identity(
            user_id=str(claims["sub"]),
            name=str(claims.get("name") or claims["sub"]),
            roles=frozenset(roles),
            team=claims.get("team"),
            token=token,
        )

    def verify_header(self, authorization: str | None) -> Identity:
        if not authorization:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())


def mint_token(
    secret: str,
    *,
    user_id: str,
    roles: list[str],
    name: str | None = None,
    team: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development/test token (HS256). Production tokens come from the identity provider."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "name": name or user_id,
        "roles": roles,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if team:
        claims["team"] = team
    return jwt.encode(claims, secret, algorithm="HS256")
