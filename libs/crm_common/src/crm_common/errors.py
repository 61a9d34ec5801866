"""Error codes of the public contract (API.md) and the exceptions that carry them.

Domain and service layers raise these; the GraphQL layer turns them into
``extensions.code`` (see ``crm_common.graphql``) so that clients can branch on the code.
"""

from __future__ import annotations

from typing import Any


class CrmError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadUserInput(CrmError):
    code = "BAD_USER_INPUT"


class NotFound(CrmError):
    code = "NOT_FOUND"


class Conflict(CrmError):
    code = "CONFLICT"


class Forbidden(CrmError):
    code = "FORBIDDEN"


class Unauthenticated(CrmError):
    code = "UNAUTHENTICATED"
