"""Positions of cards in a board column: string ranks that sort lexicographically.

A rank is a base-36 fraction written without its leading "0.": ``"i"`` is 0.5, ``"i4"`` is
0.5 + 4/36². Ranks never end in ``"0"``, so there is always room below and between any two
ranks, and plain string order (Python's, MongoDB's) equals numeric order. Moving a card
rewrites only that card's rank: the rank between its new neighbours.

Appending after the last card steps by a fixed coarse increment at six digits, so a column can
take tens of thousands of appends before ranks grow longer; inserting repeatedly at the same
spot lengthens ranks slowly (about one character per five inserts), as in any fractional
index. A later rebalance may rewrite a column's ranks evenly.
"""

from __future__ import annotations

from pipeline.domain.errors import InvalidPosition

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
_INDEX = {c: i for i, c in enumerate(DIGITS)}

# Coarse grid for appends and prepends: positions 6 digits wide, stepping by 36**3 units.
_WIDTH = 6
_STEP = BASE**3
_SPACE = BASE**_WIDTH

FIRST_RANK = "i"  # the middle: 18/36


def is_valid_rank(rank: str) -> bool:
    return bool(rank) and all(c in _INDEX for c in rank) and not rank.endswith("0")


def _check(rank: str) -> None:
    if not is_valid_rank(rank):
        raise InvalidPosition(
            f"invalid position {rank!r}: expected base-36 digits [0-9a-z], not ending in '0'"
        )


def _to_grid(rank: str) -> int:
    """The rank truncated to the coarse grid, as an integer in [0, 36**6)."""
    padded = (rank + "0" * _WIDTH)[:_WIDTH]
    value = 0
    for c in padded:
        value = value * BASE + _INDEX[c]
    return value


def _from_grid(value: int) -> str:
    chars = []
    for _ in range(_WIDTH):
        value, digit = divmod(value, BASE)
        chars.append(DIGITS[digit])
    return "".join(reversed(chars)).rstrip("0")


def _midpoint(low: str, high: str | None) -> str:
    """A rank strictly between ``low`` ("" = 0) and ``high`` (None = 1); both without
    trailing zeros, ``low < high``. (The midpoint of fractional indexing.)"""
    if high is not None:
        n = 0
        while n < len(high) and (low[n] if n < len(low) else "0") == high[n]:
            n += 1
        if n > 0:
            return high[:n] + _midpoint(low[n:], high[n:])
    digit_low = _INDEX[low[0]] if low else 0
    digit_high = _INDEX[high[0]] if high is not None else BASE
    if digit_high - digit_low > 1:
        return DIGITS[(digit_low + digit_high + 1) // 2]
    if high is not None and len(high) > 1:
        return high[:1]
    return DIGITS[digit_low] + _midpoint(low[1:], None)


def rank_between(low: str | None, high: str | None) -> str:
    """A rank that sorts strictly after ``low`` and strictly before ``high``.

    ``None`` means "no neighbour on that side": ``rank_between(last, None)`` appends,
    ``rank_between(None, first)`` prepends, ``rank_between(None, None)`` starts a column.
    """
    if low is not None:
        _check(low)
    if high is not None:
        _check(high)
    if low is not None and high is not None:
        if low >= high:
            raise InvalidPosition(f"no position between {low!r} and {high!r}: not in order")
        return _midpoint(low, high)
    if low is None and high is None:
        return FIRST_RANK
    if high is None:
        assert low is not None
        stepped = _to_grid(low) + _STEP
        if stepped < _SPACE:
            return _from_grid(stepped)
        return _midpoint(low, None)
    assert high is not None
    stepped = _to_grid(high) - _STEP  # the grid floor is <= high, one step below is < high
    if stepped > 0:
        return _from_grid(stepped)
    return _midpoint("", high)
