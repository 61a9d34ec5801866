"""Relay pagination shared by every list of the suite: one keyset cursor codec, one page-size
check, one connection builder (the ``PageInfo`` type itself is in ``crm_common.relay``).

A cursor is the sort key of its edge (keyset pagination: the next page is what sorts after
it), tagged with the connection and sort it belongs to, as URL-safe base64 of a JSON array
without padding. It is opaque to clients; a cursor of another connection or sort, or no
cursor at all, is refused with ``BAD_USER_INPUT`` on ``after``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from crm_common.errors import BadUserInput

#: What a cursor's key is made of (JSON scalars).
Key = str | int | float | bool | None

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

N = TypeVar("N")


def page_size(
    first: int | None, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    """``first`` checked (0 to ``maximum``), or the default page size."""
    size = default if first is None else first
    if not 0 <= size <= maximum:
        raise BadUserInput(f"first: must be between 0 and {maximum}", field="first")
    return size


@dataclass(frozen=True, slots=True)
class KeysetCursor:
    """The cursors of one connection (and sort): ``tag`` names it, ``arity`` is the number of
    values in its key (the sort value(s), then the id that breaks ties)."""

    tag: str
    arity: int = 2

    def encode(self, *key: Key) -> str:
        if len(key) != self.arity:
            raise ValueError(f"a {self.tag} cursor has {self.arity} values, not {len(key)}")
        raw = json.dumps([self.tag, *key], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def decode(self, cursor: str) -> tuple[Key, ...]:
        """The key of a cursor of this connection; BAD_USER_INPUT (``after``) otherwise."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (binascii.Error, UnicodeError, ValueError) as exc:
            raise self._foreign() from exc
        if (
            not isinstance(values, list)
            or len(values) != self.arity + 1
            or values[0] != self.tag
            or any(isinstance(v, dict | list) for v in values)
        ):
            raise self._foreign()
        return tuple(values[1:])

    def decode_str(self, cursor: str) -> tuple[str, ...]:
        """The key of a cursor whose values are all strings."""
        key = self.decode(cursor)
        if not all(isinstance(value, str) and value for value in key):
            raise self._foreign()
        return tuple(str(value) for value in key)

    def _foreign(self) -> BadUserInput:
        return BadUserInput("after: not a cursor of this connection", field="after")


@dataclass(frozen=True, slots=True)
class Page(Generic[N]):
    """One page of a connection: its edges (cursor, node) in order, and whether more follow."""

    edges: Sequence[tuple[str, N]]
    has_next_page: bool
    has_previous_page: bool

    @classmethod
    def of(
        cls, nodes: Sequence[N], cursor: Callable[[N], str], *, has_next: bool, after: str | None
    ) -> Page[N]:
        return cls([(cursor(node), node) for node in nodes], has_next, after is not None)

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0][0] if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1][0] if self.edges else None
