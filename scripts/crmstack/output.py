"""How the launcher talks: one prefixed line per thing it did or found wrong."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit


def say(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


class LaunchError(SystemExit):
    """A launcher failure that a user can fix: printed as one line, exit status 2."""

    def __init__(self, message: str) -> None:
        say(f"error: {message}")
        super().__init__(2)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
