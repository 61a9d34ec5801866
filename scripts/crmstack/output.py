"""How the launcher talks: one prefixed line per thing it did or found wrong."""

from __future__ import annotations

import sys

from crm_common.urls import redact

__all__ = ["LaunchError", "redact", "say"]


def say(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


class LaunchError(SystemExit):
    """A launcher failure that a user can fix: printed as one line, exit status 2."""

    def __init__(self, message: str) -> None:
        say(f"error: {message}")
        super().__init__(2)
