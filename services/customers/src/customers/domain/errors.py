"""The customers domain's refusals; the edges translate them into API errors
(``crm_common.errors.as_crm_error``), so the domain knows no wire codes."""

from __future__ import annotations

from crm_common.errors import RuleViolation


class InvalidValue(RuleViolation):
    """A value the archive does not store as given (too long, malformed, out of range), or a
    change its rules refuse; ``field`` names the input field at fault."""
