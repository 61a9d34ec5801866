"""One reporting currency: exchange rates kept by an admin and totals converted with them.

A rate says what one unit of ``currency`` is worth in the installation's base currency
(``ANALYTICS_BASE_CURRENCY``, EUR by default; the base itself is always 1) from ``valid_from``
on, until a later rate of the same currency. Converting X to the reporting currency T is
``amount x rate(X) / rate(T)``, each rate the one valid on the day the amount counts for: the
close date of a won (or lost) deal, today for an open one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
CENT = Decimal("0.01")
#: Digits of a rate kept: more than any published reference rate.
MAX_RATE_DIGITS = 12


class InvalidRate(ValueError):
    """A rate an admin may not set (bad currency code, rate not positive)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    currency: str
    rate: Decimal
    valid_from: date


def check_currency(code: str) -> str:
    if not CURRENCY_CODE.match(code):
        raise InvalidRate(f"{code!r} is not an ISO 4217 code", "INVALID_CURRENCY")
    return code


def new_rate(currency: str, rate: str | Decimal, valid_from: date) -> ExchangeRate:
    try:
        value = Decimal(rate)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRate(f"rate {rate!r} is not a decimal number", "INVALID_RATE") from exc
    if not value.is_finite() or value <= 0:
        raise InvalidRate("a rate must be a positive number", "INVALID_RATE")
    if len(value.as_tuple().digits) > MAX_RATE_DIGITS:
        raise InvalidRate(f"a rate has at most {MAX_RATE_DIGITS} digits", "INVALID_RATE")
    return ExchangeRate(check_currency(currency), value, valid_from)


class MissingRate(LookupError):
    pass


class RateTable:
    """Every rate set, by currency and date."""

    def __init__(self, rates: Iterable[ExchangeRate], base: str) -> None:
        self.base = base
        by_currency: dict[str, list[ExchangeRate]] = defaultdict(list)
        for rate in rates:
            by_currency[rate.currency].append(rate)
        self._rates = {c: sorted(rs, key=lambda r: r.valid_from) for c, rs in by_currency.items()}

    def rate(self, currency: str, on: date) -> ExchangeRate | None:
        """The rate of ``currency`` valid on ``on`` (None: none yet); the base is not stored."""
        rates = self._rates.get(currency, [])
        index = bisect_right([r.valid_from for r in rates], on)
        return rates[index - 1] if index else None


@dataclass(slots=True)
class Conversion:
    """A total converted into ``currency``, with the rates it used and the currencies it could
    not convert (no rate valid on the day; those amounts are left out of the total)."""

    currency: str
    table: RateTable
    amount: Decimal = Decimal(0)
    used: set[ExchangeRate] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    def add(self, amount: Decimal, currency: str, on: date) -> None:
        converted = self.convert(amount, currency, on)
        if converted is not None:
            self.amount += converted

    def convert(self, amount: Decimal, currency: str, on: date) -> Decimal | None:
        if currency == self.currency:
            return amount
        source = self._to_base(currency, on)
        target = self._to_base(self.currency, on)
        if source is None or target is None:
            return None
        return amount * source / target

    def _to_base(self, currency: str, on: date) -> Decimal | None:
        if currency == self.table.base:
            return Decimal(1)
        rate = self.table.rate(currency, on)
        if rate is None:
            self.missing.add(currency)
            return None
        self.used.add(rate)
        return rate.rate

    @property
    def total(self) -> Decimal:
        return self.amount.quantize(CENT)
