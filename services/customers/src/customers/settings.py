"""Settings of the customers process (environment prefix ``CUSTOMERS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_common.settings import CommonSettings
from crm_common.topology import CUSTOMERS_PIPELINE_EVENTS


class Settings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="CUSTOMERS_", extra="ignore", populate_by_name=True
    )

    port: int = 4001
    database: str = "customers"
    # The outbox relay publishes each write's events at once; this sweep, after so many quiet
    # seconds, catches what a failed publish, a crash or another process left behind.
    relay_poll_interval: float = Field(default=5.0, gt=0)
    relay_batch_size: int = Field(default=100, ge=1, le=1000)
    relay_max_backoff: float = Field(default=30.0, gt=0)
    # Phones written without a country code are read in this region (ISO 3166-1 alpha-2).
    phone_region: str = Field(default="US", min_length=2, max_length=2)
    # The consumer of pipeline.opportunity.* events (timeline and lifecycle) runs in the API.
    consumer_enabled: bool = True
    # Seconds between passes that finish what a crash left behind (audit entries not yet
    # moved, merges and transfers not yet done); the first pass runs at start.
    recovery_interval: float = Field(default=30.0, gt=0)
    # How often open follow-ups that came due are looked for and announced (customers.task.due).
    task_due_interval: float = Field(default=5.0, gt=0)
    # importCustomers(csv: String!) holds the file in memory: at most this many characters
    # (bigger files: POST /import/customers.csv, streamed).
    import_graphql_max_chars: int = Field(default=2 * 1024 * 1024, ge=1)
    # POST /import/customers.csv: a body beyond either limit is refused with 413, and never
    # held beyond ``import_max_bytes`` (in memory up to 1 MiB, then in a temporary file).
    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    import_max_rows: int = Field(default=200_000, ge=1)

    @property
    def consumer_queue(self) -> str:
        """``<CRM_INSTANCE>.customers.pipeline-events``: the consumer's durable queue."""
        return CUSTOMERS_PIPELINE_EVENTS.name(self.instance)
