"""Crash points for the crash-safety tests, off unless an environment variable names them.

``CUSTOMERS_CRASH_AT=<point>[,<point>...]`` makes the process kill itself with SIGKILL when it
reaches one of the named points, exactly as a power cut would: no ``finally``, no shutdown. The
tests use it to stop a process between two writes that a real crash could separate. It is read
once, at import; production never sets it.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "CUSTOMERS_CRASH_AT"
_POINTS = frozenset(
    point.strip() for point in os.environ.get(ENVIRONMENT_VARIABLE, "").split(",") if point.strip()
)

# The points that exist (a test naming another one would test nothing):
# - "customer-written": a customer document written (change, events, audit entries), its
#   events not yet handed to the relay, its audit entries not yet moved;
# - the steps of ``service_layer/operations.py`` recorded through the operation log:
#   "merge-absorbed" (the survivor written, timelines and sources not yet moved) and
#   "transfer-applied" (the customers re-owned, the run not yet recorded with its event).
AFTER_CUSTOMER_WRITE = "customer-written"


def crash_point(name: str) -> None:
    if name in _POINTS:
        os.kill(os.getpid(), signal.SIGKILL)
