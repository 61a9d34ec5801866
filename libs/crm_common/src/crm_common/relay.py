"""The Relay connection pieces every subgraph's lists share: the one ``PageInfo`` type and the
builder that turns a ``crm_common.pagination.Page`` into edges and page info."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from crm_common.pagination import Page

N = TypeVar("N")
E = TypeVar("E")


@strawberry.federation.type(shareable=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        )


def connection(page: Page[N], edge: Callable[[str, N], E]) -> tuple[list[E], PageInfo]:
    """The edges of a page (``edge(cursor, node)`` each, in order) and its ``PageInfo``."""
    return [edge(cursor, node) for cursor, node in page.edges], PageInfo.of(page)
