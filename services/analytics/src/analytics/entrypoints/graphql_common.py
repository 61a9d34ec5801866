"""GraphQL types more than one schema module of the subgraph uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar, cast

import strawberry

from analytics.domain.currency import Conversion, ExchangeRate

F = TypeVar("F", bound=Callable[..., Any])


def field(description: str) -> Callable[[F], F]:
    """``@strawberry.field(description=...)`` with the resolver's type kept for mypy."""
    return cast("Callable[[F], F]", strawberry.field(description=description))


def mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


@strawberry.federation.type(shareable=True, description="An amount in one currency.")
class Money:
    amount: Decimal
    currency: str


def _money(values: Mapping[str, Decimal]) -> list[Money]:
    return [Money(amount=values[c], currency=c) for c in sorted(values) if c]


@strawberry.type(
    name="ExchangeRate",
    description=(
        "What one unit of `currency` is worth in the base currency (ANALYTICS_BASE_CURRENCY, "
        "EUR by default) from `validFrom` on, until the currency's next rate."
    ),
)
class ExchangeRateType:
    currency: str
    rate: Decimal
    valid_from: date

    @classmethod
    def of(cls, rate: ExchangeRate) -> ExchangeRateType:
        return cls(currency=rate.currency, rate=rate.rate, valid_from=rate.valid_from)


def converted_money(conversion: Conversion | None) -> Money | None:
    if conversion is None:
        return None
    return Money(amount=conversion.total, currency=conversion.currency)


def rates_used(*conversions: Conversion | None) -> list[ExchangeRateType]:
    used = {rate for c in conversions if c is not None for rate in c.used}
    return [ExchangeRateType.of(r) for r in sorted(used, key=lambda r: (r.currency, r.valid_from))]


def unconverted(*conversions: Conversion | None) -> list[str]:
    return sorted({code for c in conversions if c is not None for code in c.missing})
