"""Settings of the pipeline processes (API and relay), read from ``PIPELINE_*`` and the
standard names (``MONGODB_URL``, ``AMQP_URL``, ``JWT_SECRET`` ...) of ``CommonSettings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_common.settings import CommonSettings
from crm_common.topology import PIPELINE_CUSTOMER_EVENTS


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", extra="ignore", populate_by_name=True)

    port: int = 4002
    database: str = "pipeline"
    # The outbox relay runs inside the API process unless a separate ``pipeline-relay``
    # process does the job (then set PIPELINE_RELAY_ENABLED=false on the API).
    relay_enabled: bool = True
    # The relay is woken right after each write; this periodic sweep catches what a crash or
    # a broker outage left behind, and what other processes wrote.
    relay_poll_interval: float = Field(default=2.0, gt=0)
    relay_batch_size: int = Field(default=100, ge=1)
    relay_max_backoff: float = Field(default=30.0, gt=0)
    # How long ``createOpportunity`` waits for a just-created customer's event to arrive.
    customer_wait_seconds: float = Field(default=2.0, ge=0)
    # Accepting a quote wins its deal (PIPELINE_QUOTE_ACCEPT_WINS=false: it only records the
    # customer's answer, and the deal is won on the board).
    quote_accept_wins: bool = True
    # A TrueType font for quote PDFs (Unicode text, CJK included); none found: Helvetica, whose
    # Latin-1 lacks other scripts (they print as "?").
    quote_font: str | None = None

    @property
    def customer_events_queue(self) -> str:
        """``<CRM_INSTANCE>.pipeline.customer-events``: the durable queue fed by customer
        events (the customers the pipeline knows)."""
        return PIPELINE_CUSTOMER_EVENTS.name(self.instance)
