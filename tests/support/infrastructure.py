"""What the test session's ``infrastructure`` fixture (tests/conftest.py) hands to the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Infrastructure:
    """The session's MongoDB and its private RabbitMQ virtual host."""

    mongodb_url: str
    amqp_url: str
    log_dir: Path
    #: Prefix of the session's queues (``CRM_INSTANCE``) and databases; each test kit adds
    #: a suffix of its own.
    instance: str
