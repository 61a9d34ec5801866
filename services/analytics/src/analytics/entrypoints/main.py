"""``analytics-api``: serve the analytics subgraph with uvicorn."""

from __future__ import annotations

import uvicorn

from analytics.entrypoints.app import create_app
from analytics.settings import Settings
from crm_common.logging import configure_logging


def run() -> None:
    settings = Settings()
    configure_logging("analytics-api", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
    )
