"""Several URLs per subgraph: a subgraph that runs as N replicas without a load balancer of
its own. The URL setting of a subgraph may hold several URLs separated by spaces
(``GATEWAY_SUBGRAPH_URLS='{"customers": "http://c1:8001/graphql http://c2:8001/graphql"}'``,
or a JSON list). Requests go round-robin; a replica that refuses connections is skipped for
``DOWN_SECONDS`` and the request goes to the next one. Only a refused connection is retried
elsewhere: nothing was sent, so even a mutation cannot run twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: How long a replica that refused a connection is left out of the rotation.
DOWN_SECONDS = 2.0

T = TypeVar("T")


def split_urls(value: str | Sequence[str]) -> list[str]:
    """The URLs one subgraph setting names (a space-separated string or a list)."""
    urls = value.split() if isinstance(value, str) else [u for v in value for u in v.split()]
    if not urls:
        raise ValueError("a subgraph needs at least one URL")
    return urls


def joined_urls(value: str | Sequence[str]) -> str:
    return " ".join(split_urls(value))


@dataclass
class Rotation(Generic[T]):
    """Round-robin over a subgraph's replicas, skipping those recently found down."""

    replicas: list[T]
    clock: Callable[[], float] = time.monotonic
    _next: int = 0
    _down_until: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._down_until = [0.0] * len(self.replicas)

    def order(self) -> list[tuple[int, T]]:
        """This request's replicas to try, in order: the next in turn first, the ones found
        down last (all of them are tried before giving up)."""
        count = len(self.replicas)
        start = self._next
        self._next = (start + 1) % count
        now = self.clock()
        turn = [(start + i) % count for i in range(count)]
        up = [i for i in turn if self._down_until[i] <= now]
        down = [i for i in turn if self._down_until[i] > now]
        return [(i, self.replicas[i]) for i in up + down]

    def down(self, index: int, seconds: float = DOWN_SECONDS) -> None:
        self._down_until[index] = self.clock() + seconds

    def up(self, index: int) -> None:
        self._down_until[index] = 0.0
