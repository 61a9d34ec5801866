"""Settings every process reads from the environment.

The standard names (``MONGODB_URL``, ``AMQP_URL``, ``GATEWAY_URL``, ``JWT_SECRET``,
``JWT_JWKS_URL``) are shared by every process, the tests and docker-compose, so they carry no
prefix; everything else is prefixed per service (``CUSTOMERS_PORT``, ``PIPELINE_PORT`` ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_common.topology import DEFAULT_INSTANCE

# Only a development machine may run with this secret; see ``require_real_secret``.
DEVELOPMENT_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
#: The shortest HS256 secret production accepts (RFC 7518 3.2: a key of at least the hash size).
MIN_SECRET_BYTES = 32


class CommonSettings(BaseSettings):
    """Base of every process's ``Settings``; subclasses set ``env_prefix`` and defaults."""

    # An empty variable counts as unset (compose passes `JWT_SECRET: ${JWT_SECRET:-}` through).
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("CRM_ENV", "environment")
    )
    #: The installation's name: it prefixes every queue name (``crm_common.topology``), so
    #: installations sharing a broker never consume each other's events.
    instance: str = Field(
        default=DEFAULT_INSTANCE,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        validation_alias=AliasChoices("CRM_INSTANCE", "instance"),
    )
    host: str = "127.0.0.1"
    port: int = 0
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27017/",
        validation_alias=AliasChoices("MONGODB_URL", "mongodb_url"),
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("AMQP_URL", "amqp_url"),
    )
    jwt_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JWT_SECRET", "jwt_secret"),
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JWT_JWKS_URL", "jwt_jwks_url"),
    )
    jwt_audience: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JWT_AUDIENCE", "jwt_audience"),
    )
    #: When set, a token's ``iss`` must equal it.
    jwt_issuer: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JWT_ISSUER", "jwt_issuer"),
    )
    #: When set, a token older than this (by ``iat``, which then becomes required) is refused.
    jwt_max_age_seconds: int | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices("JWT_MAX_AGE_SECONDS", "jwt_max_age_seconds"),
    )
    #: Clock skew allowed on ``exp``/``nbf``/``iat`` between the identity provider and us.
    jwt_leeway_seconds: int = Field(
        default=30,
        ge=0,
        le=600,
        validation_alias=AliasChoices("JWT_LEEWAY_SECONDS", "jwt_leeway_seconds"),
    )
    #: Where the roles and the team sit in the claims: a dotted path, so an identity provider's
    #: own claims work (Keycloak: ``realm_access.roles``; ``groups``). A team claim that is a
    #: list (``groups``) gives its first entry.
    jwt_roles_claim: str = Field(
        default="roles",
        min_length=1,
        validation_alias=AliasChoices("JWT_ROLES_CLAIM", "jwt_roles_claim"),
    )
    jwt_team_claim: str = Field(
        default="team",
        min_length=1,
        validation_alias=AliasChoices("JWT_TEAM_CLAIM", "jwt_team_claim"),
    )
    #: How long fetched signing keys are kept before the JWKS is asked again.
    jwt_jwks_cache_seconds: int = Field(
        default=300,
        ge=0,
        validation_alias=AliasChoices("JWT_JWKS_CACHE_SECONDS", "jwt_jwks_cache_seconds"),
    )

    @model_validator(mode="after")
    def require_real_secret(self) -> CommonSettings:
        # Secrets have no default outside development: a production process that forgot its
        # secret must refuse to start rather than accept tokens signed with a public string.
        if self.jwt_secret is None and self.jwt_jwks_url is None:
            if self.environment == "production":
                raise ValueError("JWT_SECRET or JWT_JWKS_URL is required in production")
            self.jwt_secret = DEVELOPMENT_JWT_SECRET
        if self.environment == "production" and self.jwt_secret is not None:
            if self.jwt_secret == DEVELOPMENT_JWT_SECRET:
                raise ValueError(
                    "JWT_SECRET is the published development secret: refused in production"
                )
            if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes in production"
                    " (e.g. `openssl rand -hex 32`)"
                )
        return self
