"""Who is calling: verification of the bearer JWT, shared by the gateway and every subgraph.

The gateway verifies the client's token and forwards it unchanged in ``Authorization``; each
subgraph verifies it again, because subgraphs do not trust the network (DESIGN.md, Identity).
HS256 with ``JWT_SECRET`` in development, RS256 through ``JWT_JWKS_URL`` in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from crm_common.errors import Unauthenticated
from crm_common.jwks import JwksKeys
from crm_common.settings import CommonSettings

ROLES = ("rep", "manager", "admin", "service")
Role = Literal["rep", "manager", "admin", "service"]

_MISSING = object()


class Claims(BaseModel):
    """The claims a token must carry, checked by type: anything else is a 401.

    Strict strings: a ``team`` of ``{"$ne": null}`` must never reach a database filter.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: StrictStr = Field(min_length=1, max_length=256)
    name: StrictStr | None = Field(default=None, max_length=256)
    roles: list[Role] = Field(default_factory=list, max_length=16)
    team: StrictStr | None = Field(default=None, min_length=1, max_length=256)


def _claim_at(claims: dict[str, Any], path: str) -> object:
    """The value at a dotted path (``realm_access.roles``), or ``_MISSING``."""
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def parse_claims(
    claims: dict[str, Any], *, roles_claim: str = "roles", team_claim: str = "team"
) -> Claims:
    """Validate decoded claims with ``Claims``; roles and team are read where the settings say.

    A role the suite does not know is ignored when the roles come from an identity provider's
    own claim (Keycloak lists ``offline_access`` ...), refused when they come from ``roles``.
    """
    fields: dict[str, object] = {"sub": claims.get("sub"), "name": claims.get("name")}
    roles = _claim_at(claims, roles_claim)
    if roles is not _MISSING and roles is not None:
        if roles_claim != "roles" and isinstance(roles, list):
            roles = [r for r in roles if r in ROLES]
        fields["roles"] = roles
    team = _claim_at(claims, team_claim)
    if isinstance(team, list) and team_claim != "team":
        team = team[0] if team else None
        if isinstance(team, str):
            team = team.lstrip("/") or None  # Keycloak group paths: "/team-1"
    if team is not _MISSING:
        fields["team"] = team
    try:
        return Claims.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'claims'}: {e['msg']}" for e in exc.errors()
        )
        raise Unauthenticated(f"invalid token claims: {problems}") from exc


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
    """Verifies tokens with the secret or the JWKS named in the settings.

    Async code calls ``averify`` / ``averify_header``: with a JWKS the signing key may have to
    be fetched first (off the event loop, ``crm_common.jwks``). The synchronous ``verify``
    uses the keys already fetched (always enough for HS256).
    """

    def __init__(self, settings: CommonSettings) -> None:
        self._secret = settings.jwt_secret if not settings.jwt_jwks_url else None
        self._jwks = (
            JwksKeys(settings.jwt_jwks_url, cache_seconds=settings.jwt_jwks_cache_seconds)
            if settings.jwt_jwks_url
            else None
        )
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._max_age = settings.jwt_max_age_seconds
        self._leeway = settings.jwt_leeway_seconds
        self._roles_claim = settings.jwt_roles_claim
        self._team_claim = settings.jwt_team_claim

    def verify(self, token: str) -> Identity:
        if self._jwks is None:
            return self._verify_with(token, self._secret, ["HS256"])
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        key = self._jwks.cached(kid if isinstance(kid, str) else None)
        if key is None:
            raise Unauthenticated("invalid token: its signing key is not loaded (use averify)")
        return self._verify_with(token, key, ["RS256"])

    async def averify(self, token: str) -> Identity:
        if self._jwks is None:
            return self.verify(token)
        return self._verify_with(token, await self._jwks.key(token), ["RS256"])

    def _verify_with(self, token: str, key: Any, algorithms: list[str]) -> Identity:
        try:
            required = ["sub", "exp"] + (["iat"] if self._max_age else [])
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={
                    "require": required + (["iss"] if self._issuer else []),
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        if not isinstance(claims, dict):
            raise Unauthenticated("invalid token: the claims are not an object")
        if self._max_age is not None:
            issued = claims.get("iat")
            if (
                not isinstance(issued, int | float)
                or time.time() - issued > self._max_age + self._leeway
            ):
                raise Unauthenticated(f"invalid token: older than {self._max_age} seconds")
        parsed = parse_claims(claims, roles_claim=self._roles_claim, team_claim=self._team_claim)
        return Identity(
            user_id=parsed.sub,
            name=parsed.name or parsed.sub,
            roles=frozenset(parsed.roles),
            team=parsed.team,
            token=token,
        )

    @staticmethod
    def bearer_token(authorization: str | None) -> str:
        if not authorization:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return token.strip()

    def verify_header(self, authorization: str | None) -> Identity:
        return self.verify(self.bearer_token(authorization))

    async def averify_header(self, authorization: str | None) -> Identity:
        return await self.averify(self.bearer_token(authorization))


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
