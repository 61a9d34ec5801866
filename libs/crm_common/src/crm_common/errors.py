"""Error codes of the public contract (API.md) and the exceptions that carry them.

Service layers raise these; the GraphQL layer turns them into ``extensions.code`` (see
``crm_common.graphql``) so that clients can branch on the code. A domain raises its own
``RuleViolation`` subclasses instead (no wire code in the domain): ``as_crm_error`` is the one
translation, applied at each edge (GraphQL, HTTP routes, consumers, per-row import reports).
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


class RuleViolation(Exception):
    """A domain's refusal of a value or a command: bad input, named by its ``field`` if any.

    It carries no API code: the edge translates it (``as_crm_error``) into ``BadUserInput``."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def is_input_value_problem(message: str) -> bool:
    """Whether a GraphQL validation or coercion message is about a value the client sent (a
    date that does not exist, a string for an Int, a number out of range): BAD_USER_INPUT,
    rather than a malformed document (GRAPHQL_VALIDATION_FAILED). graphql-core words these
    messages so in its variable coercion and its ValuesOfCorrectType rule."""
    return (
        message.startswith(("Variable '$", "Expected value of type", "Expected type"))
        or "cannot represent" in message
    )


def as_crm_error(error: BaseException | None) -> CrmError | None:
    """The API error an exception stands for: itself, a translated ``RuleViolation``, or None
    (an unexpected error: a bug, not the caller's business)."""
    if isinstance(error, CrmError):
        return error
    if isinstance(error, RuleViolation):
        details = {"field": error.field} if error.field else {}
        return BadUserInput(error.message, **details)
    return None
