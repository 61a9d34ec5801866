"""Money: an exact ``Decimal`` amount in an ISO 4217 currency.

The amount is never negative and carries no more decimals than the currency's minor unit
(2 for EUR and USD, 0 for JPY, 3 for KWD); it is kept exact (``Decimal``, never ``float``) and
rendered with exactly the minor-unit digits ("1200.00").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pipeline.domain.errors import InvalidMoney

# Active ISO 4217 currency codes (list one) and their minor units. Fund codes, precious
# metals, testing and "no currency" codes (XAU, XDR, XTS, XXX ...) are left out on purpose:
# a deal is never priced in them.
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2,
    "BND": 2, "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
    "CAD": 2, "CDF": 2, "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2,
    "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2,
    "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2,
    "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3,
    "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3,
    "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
    "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2,
    "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2,
    "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2,
    "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2,
    "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2,
    "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
    "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2,
    "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "UYU": 2, "UZS": 2, "VES": 2, "VND": 0,
    "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0, "YER": 2,
    "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

ISO_4217_CODES = frozenset(MINOR_UNITS)

# Far above any real deal, far below anything that loses precision downstream (Decimal128
# keeps 34 digits; JSON consumers often parse into doubles, exact up to 2**53).
MAX_AMOUNT = Decimal("1e15")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in ISO_4217_CODES:
            raise _invalid(f"unknown currency {self.currency!r}: expected an ISO 4217 code")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise _invalid(f"amount {self.amount!r} is not a finite decimal number")
        if self.amount < 0:
            raise _invalid(f"amount {self.amount} must not be negative")
        if self.amount >= MAX_AMOUNT:
            raise _invalid(f"amount {self.amount} is too large (limit {MAX_AMOUNT:f})")
        digits = self.minor_units
        exponent = self.amount.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        if -exponent > digits:
            raise _invalid(
                f"amount {self.amount} has more than {digits} decimal(s), "
                f"the minor unit of {self.currency}"
            )
        # Canonical form: exactly the minor-unit digits, so equal amounts compare and
        # serialise the same ("1200" and "1200.0" both become "1200.00" in EUR).
        object.__setattr__(self, "amount", self.amount.quantize(Decimal(1).scaleb(-digits)))

    @classmethod
    def of(cls, amount: Decimal | str | int | float, currency: str) -> Money:
        """Parse user input: the amount as a decimal string (or Decimal/int), the currency
        code case-insensitively."""
        if isinstance(amount, float):
            raise _invalid("amounts must be exact decimals, not floats")
        try:
            value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
        except InvalidOperation:
            raise _invalid(f"amount {amount!r} is not a decimal number") from None
        return cls(value, currency.strip().upper())

    @property
    def minor_units(self) -> int:
        return MINOR_UNITS[self.currency]

    def formatted_amount(self) -> str:
        """The amount with exactly the currency's minor-unit digits, e.g. ``"1200.00"``."""
        return f"{self.amount:f}"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise _invalid(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)


def totals_by_currency(amounts: list[Money]) -> list[Money]:
    """Sum amounts per currency (never across currencies), sorted by currency code."""
    sums: dict[str, Decimal] = {}
    for money in amounts:
        sums[money.currency] = sums.get(money.currency, Decimal(0)) + money.amount
    return [Money(total, currency) for currency, total in sorted(sums.items())]


def _invalid(message: str) -> InvalidMoney:
    return InvalidMoney(message)
