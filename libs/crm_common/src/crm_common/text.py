"""The one rule set for text and ids that cross a service boundary.

A value one service accepts travels in its events to the others; if a consumer's rules were
stricter than the producer's, it would dead-letter a valid event (a deal title with ESC was
refused by the customers timeline). So every such value is checked once, where it is
accepted, by these rules, and consumers apply the same ones:

- ``single_line`` (names, titles, tags): whitespace runs collapse to one space; no control
  character (C0, DEL, C1) and no lone surrogate (not encodable as UTF-8, so not storable);
- ``multi_line`` (notes, reasons, next steps): trimmed; line breaks and tabs allowed, other
  control characters and lone surrogates not;
- ``identifier`` (owner ids, teams, any id another service stores): 1-128 characters of
  letters, digits and ``._:@-``, starting with a letter or a digit.

Each raises ``RuleViolation`` (bad input, translated into ``BAD_USER_INPUT`` at the edge).
"""

from __future__ import annotations

import re
from typing import Final

from crm_common.errors import RuleViolation

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_EXCEPT_LINES: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
IDENTIFIER_MAX: Final = 128


def single_line(value: str | None, field: str, max_length: int) -> str | None:
    """One line of text, whitespace collapsed; None when blank."""
    if value is None:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if _CONTROL.search(text):
        raise RuleViolation(f"{field}: must not contain control characters", field=field)
    if len(text) > max_length:
        raise RuleViolation(
            f"{field}: at most {max_length} characters (got {len(text)})", field=field
        )
    return text


def multi_line(value: str | None, field: str, max_length: int) -> str | None:
    """Free text that may span lines, trimmed; None when blank."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _CONTROL_EXCEPT_LINES.search(text):
        raise RuleViolation(f"{field}: must not contain control characters", field=field)
    if len(text) > max_length:
        raise RuleViolation(
            f"{field}: at most {max_length} characters (got {len(text)})", field=field
        )
    return text


def check_no_control(text: str, field: str, *, lines: bool = False) -> None:
    """Refuses control characters (line breaks and tabs allowed with ``lines``) and lone
    surrogates: the check under ``single_line`` and ``multi_line``, for callers that trim
    text their own way."""
    if (_CONTROL_EXCEPT_LINES if lines else _CONTROL).search(text):
        raise RuleViolation(f"{field}: must not contain control characters", field=field)


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def identifier(value: str | None, field: str) -> str | None:
    """An id another service may store (trimmed; None when blank)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not is_identifier(text):
        raise RuleViolation(
            f"{field}: {text[:40]!r} is not a valid id "
            f"(1-{IDENTIFIER_MAX} characters: letters, digits, ._:@-; the first a letter or "
            "a digit)",
            field=field,
        )
    return text
