"""Settings of the gateway process (environment prefix ``GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    subgraph_urls: dict[str, str] = Field(default_factory=dict)
    subgraph_timeout_seconds: float = Field(default=30.0, gt=0)
    plan_cache_size: int = Field(default=512, ge=1)
    document_cache_size: int = Field(default=512, ge=1)
    # When true, a request with the header `x-crm-query-plan: true` gets its plan in
    # `extensions.queryPlan`. Off by default: plans reveal the subgraph topology.
    expose_query_plans: bool = False
