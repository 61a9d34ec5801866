"""The one poller of the test suite. Events travel asynchronously, so an end-to-end assertion
waits for its condition instead of sleeping a guessed time, and fails with the last value seen."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T] | T],
    accept: Callable[[T], bool] = bool,
    *,
    within: float = 20.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` (a coroutine function or a plain one) until ``accept`` holds for its value
    (by default: the value is truthy); raise AssertionError with the last value after ``within``
    seconds."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        result = cast(T, value)
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within} s; last value: {result!r}")
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T],
    accept: Callable[[T], bool] = bool,
    *,
    within: float = 20.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """The same poller for synchronous tests (no event loop is running there)."""
    return asyncio.run(eventually(probe, accept, within=within, interval=interval, what=what))
