"""One JSON log line per GraphQL request, without tokens or personal data.

What is logged: method, path, status, duration, operation type and name, outcome, and the
request id and trace id when the client sent them. What is never logged: headers (the
token), the query text and variables (they carry names, e-mails, amounts), the caller's
address and the user id.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

log = logging.getLogger("gateway.access")


class AccessLog:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled

    def write(
        self,
        request: Request,
        status: int,
        elapsed: float,
        kind: str,
        operation_name: str | None,
        outcome: str,
    ) -> None:
        if not self.enabled or not log.isEnabledFor(logging.INFO):
            return
        extra: dict[str, object] = {
            "method": request.method,
            "path": request.url.path,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "operation_type": kind,
            "operation_name": (operation_name or "-")[:100],
            "outcome": outcome,
        }
        request_id = request.headers.get("x-request-id")
        if request_id:
            extra["request_id"] = request_id[:100]
        traceparent = request.headers.get("traceparent")
        if traceparent and traceparent.count("-") == 3:
            extra["trace_id"] = traceparent.split("-")[1]
        log.info("graphql request", extra=extra)
