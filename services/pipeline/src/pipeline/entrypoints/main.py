"""``pipeline-api``: the pipeline subgraph over HTTP."""

from __future__ import annotations

import uvicorn

from crm_common.logging import configure_logging
from pipeline.entrypoints.app import create_app
from pipeline.settings import Settings


def run() -> None:
    settings = Settings()
    configure_logging("pipeline", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the JSON logging configured above
        lifespan="on",
    )


if __name__ == "__main__":
    run()
