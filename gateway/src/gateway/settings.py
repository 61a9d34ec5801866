"""Settings of the gateway process (environment prefix ``GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from crm_common.settings import CommonSettings

SUPERGRAPH_RELATIVE_PATH = Path("contracts") / "supergraph.graphql"


def default_supergraph_path() -> Path:
    """``contracts/supergraph.graphql`` of the repository (or image) this code runs from.

    Found by walking up from this file, which works for the editable install of the
    workspace and for the Docker image (which copies the workspace); else relative to the
    working directory.
    """
    for parent in Path(__file__).resolve().parents:
        candidate = parent / SUPERGRAPH_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return SUPERGRAPH_RELATIVE_PATH


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    port: int = 4000
    supergraph_path: Path = Field(default_factory=default_supergraph_path)
    # Subgraph name -> URL (JSON in GATEWAY_SUBGRAPH_URLS), overriding the supergraph's URLs,
    # which name the docker-compose hosts. Names match join__graph names case-insensitively.
    # Several replicas of a subgraph: several URLs separated by spaces, or a JSON list
    # (gateway.transport.replicas).
    subgraph_urls: dict[str, str | list[str]] = Field(default_factory=dict)
    subgraph_timeout_seconds: float = Field(default=30.0, gt=0)
    # Pooled subgraph connections idle longer than this are closed, not reused: below the
    # subgraph servers' keep-alive timeout (uvicorn: 5 s), so none is found dropped.
    subgraph_idle_seconds: float = Field(default=4.0, gt=0)
    # PEM file of CA certificates trusted for https:// subgraphs besides the system's.
    subgraph_ca_file: str | None = None
    plan_cache_size: int = Field(default=512, ge=1)
    document_cache_size: int = Field(default=512, ge=1)
    # When true, a request with the header `x-crm-query-plan: true` gets its plan in
    # `extensions.queryPlan`. Off by default: plans reveal the subgraph topology.
    expose_query_plans: bool = False

    # --- guard rails (limits.py): on by default, each refused before any subgraph is called.
    limits_enabled: bool = True
    max_depth: int | None = Field(default=15, ge=1)
    max_aliases: int | None = Field(default=30, ge=0)
    max_root_fields: int | None = Field(default=20, ge=1)
    max_directives: int | None = Field(default=50, ge=0)
    max_tokens: int | None = Field(default=5000, ge=1)
    max_cost: int | None = Field(default=25_000, ge=1)
    default_list_size: int = Field(default=10, ge=1)
    # 4 MiB: above the 2 MiB CSV that customers' importCustomers takes through GraphQL.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    request_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- persisted operations (persisted.py)
    apq_enabled: bool = True
    apq_cache_size: int = Field(default=2000, ge=1)
    # An Apollo persisted-query manifest (JSON): with it, only its operations run.
    persisted_operations_path: Path | None = None
    # Cache-Control max-age of a successful GET query (private: answers depend on the token).
    get_cache_max_age_seconds: int = Field(default=10, ge=0)

    # --- development conveniences; None means "on unless CRM_ENV=production".
    introspection: bool | None = None
    explorer: bool | None = None
    explorer_assets_dir: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    # The web console's build (console/dist of the checkout by default, see console.py).
    console_dir: Path | None = None
    # POST /dev/token for the console's development sign-in: never in production, and only
    # with a shared HS256 secret (None: on unless CRM_ENV=production).
    dev_sign_in: bool | None = None
    cors_allow_credentials: bool = False

    # --- the schema registry (registry/): None means "on in development" (make demo).
    registry_enabled: bool | None = None
    registry_url: str | None = None  # default: MONGODB_URL
    registry_database: str = "registry"
    registry_poll_seconds: float = Field(default=2.0, gt=0)
    # How often the supergraph file is looked at for changes when no registry is followed.
    supergraph_watch_seconds: float = Field(default=2.0, gt=0)
    usage_flush_seconds: float = Field(default=1.0, gt=0)

    # --- observability: traces go out only when an OTLP endpoint is configured.
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"),
    )
    access_log: bool = True

    @property
    def introspection_on(self) -> bool:
        return self.introspection if self.introspection is not None else not self.in_production

    @property
    def explorer_on(self) -> bool:
        if self.explorer is not None:
            return self.explorer
        return self.environment == "development"

    @property
    def dev_sign_in_secret(self) -> str | None:
        """The secret the development sign-in mints with, or None when it is off."""
        wanted = self.dev_sign_in if self.dev_sign_in is not None else not self.in_production
        if not wanted or self.in_production or self.jwt_jwks_url is not None:
            return None
        return self.jwt_secret

    @property
    def registry_on(self) -> bool:
        if self.registry_enabled is not None:
            return self.registry_enabled
        return self.environment == "development"

    @property
    def in_production(self) -> bool:
        return self.environment == "production"

    @property
    def registry_mongodb_url(self) -> str:
        return self.registry_url or self.mongodb_url
