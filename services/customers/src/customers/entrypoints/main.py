"""``customers-api``: runs the customers subgraph under uvicorn."""

from __future__ import annotations

import uvicorn

from crm_common.logging import configure_logging
from customers.entrypoints.app import create_app
from customers.settings import Settings


def run() -> None:
    settings = Settings()
    configure_logging("customers", settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    run()
