"""Settings of the customers process (environment prefix ``CUSTOMERS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_common.settings import CommonSettings


class Settings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMERS_", extra="ignore", populate_by_name=True)

    port: int = 4001
    database: str = "customers"
    # The outbox relay is woken after every write; this periodic sweep only catches what a
    # failed publish or a crash left behind.
    outbox_sweep_seconds: float = Field(default=5.0, gt=0)
    outbox_batch_size: int = Field(default=100, ge=1, le=1000)
