"""``crm-gateway``: runs the federated gateway under uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from crm_common.logging import configure_logging
from gateway.app import create_app
from gateway.settings import Settings
from gateway.supergraph import SupergraphError

log = logging.getLogger(__name__)


def run() -> None:
    settings = Settings()
    configure_logging("gateway", settings.log_level)
    try:
        app = create_app(settings)
    except (SupergraphError, ValueError) as exc:
        # A gateway without a servable supergraph must not start: say why, in one line.
        log.error("cannot start the gateway", extra={"reason": str(exc)})
        sys.exit(1)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    run()
