"""Settings of the analytics processes (the API and the event worker share one image)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from crm_common.settings import CommonSettings
from crm_common.topology import ANALYTICS_EVENTS


class Settings(CommonSettings):
    """``ANALYTICS_*`` variables plus the standard unprefixed ones (``MONGODB_URL`` ...)."""

    model_config = SettingsConfigDict(
        env_prefix="ANALYTICS_", extra="ignore", populate_by_name=True
    )

    port: int = 4003
    database: str = "analytics"
    #: Unacknowledged messages the worker may hold; they are written together (group commit,
    #: at most this many events per batch).
    prefetch: int = 256
    #: Attempts of a failing handler before the message is dead-lettered.
    max_attempts: int = 5
    #: The worker touches this file while it consumes and MongoDB answers (the container
    #: health check reads its age); empty disables it.
    heartbeat_path: str = "/tmp/analytics-worker.heartbeat"
    heartbeat_seconds: float = 10.0
    #: How long a sequence gap may stay open before the held events are applied without the
    #: missing ones (see ``analytics.domain.deal``), and how often the worker checks.
    gap_timeout_seconds: float = 10.0
    gap_check_seconds: float = 2.0
    #: Coalescing delay of the worker's ``analytics.projection.updated`` notifications and of
    #: the ``funnelUpdates`` subscription.
    notify_seconds: float = 0.5
    funnel_debounce_seconds: float = 1.0
    #: Deal states the worker keeps in memory (saves a read per event).
    cache_size: int = 20000
    #: The API's in-memory deal cache (``analytics.adapters.deal_cache.CachedReadModel``): at most
    #: this many pipelines and deals (least recently used pipeline evicted first, reloaded on
    #: demand; about 2.5 KiB per deal with its stays).
    cache_max_pipelines: int = 64
    cache_max_deals: int = 1_000_000
    #: Snapshots of the cache (few large documents, see ``analytics.adapters.snapshot``),
    #: read when a pipeline is loaded (false: always read ``opportunities``). The API writes
    #: one after loading a pipeline from ``opportunities``, and again once this many
    #: deals were read since the last one, at most every ``cache_snapshot_seconds``.
    cache_snapshots: bool = True
    cache_snapshot_changes: int = 5000
    cache_snapshot_seconds: float = 300.0
    #: Pipelines (those with a snapshot, largest first) loaded in the background at start.
    cache_warm_pipelines: int = 8

    #: The currency exchange rates are expressed in (one unit of a currency is worth ``rate``
    #: units of it); reports convert into any currency that has a rate (or is this one).
    base_currency: str = "EUR"
    #: Webhooks: hosts (or addresses) deliveries may reach although they are internal,
    #: comma-separated (``*``: any; the demo and the tests allow 127.0.0.1); the retry
    #: schedule (first delay, doubling up to the maximum, for the window after the event);
    #: failed attempts in a row after which a webhook is disabled; one attempt's timeout.
    webhook_allowed_hosts: str = ""
    webhook_retry_first_seconds: float = 5.0
    webhook_retry_max_seconds: float = 7200.0
    webhook_retry_window_seconds: float = 86400.0
    webhook_disable_after: int = 100
    webhook_timeout_seconds: float = 15.0
    webhook_concurrency: int = 32

    @property
    def webhook_hosts(self) -> list[str]:
        return [h.strip() for h in self.webhook_allowed_hosts.split(",") if h.strip()]

    @property
    def queue(self) -> str:
        """The worker's durable queue on ``crm.events`` (``<CRM_INSTANCE>.analytics.events``);
        its dead-letter queue is ``<queue>.dlq``."""
        return ANALYTICS_EVENTS.name(self.instance)
