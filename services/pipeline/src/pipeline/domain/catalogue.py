"""The product catalogue and a deal's line items: plain values and the pricing rule.

A line's total is ``quantity x unit price x (1 - discount/100)`` rounded once, half-even, to
the currency's minor unit; the deal's amount is the exact sum of its lines' totals (all in one
currency). Prices are ``Money`` (exact decimals), never floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pipeline.domain.errors import DomainError
from pipeline.domain.money import Money

MAX_SKU_LENGTH = 64
MAX_PRODUCT_NAME_LENGTH = 200
MAX_LINE_ITEMS = 200
MAX_QUANTITY = Decimal("1e9")
HUNDRED = Decimal(100)


class InvalidProduct(DomainError):
    pass


class InvalidLineItem(DomainError):
    """A bad line: ``field`` is its input path, ``reason`` a stable code clients branch on."""

    def __init__(self, message: str, *, field: str = "items", reason: str = "INVALID_ITEM") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


def _clean(value: str, what: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidProduct(f"{what} must not be blank")
    if len(cleaned) > limit:
        raise InvalidProduct(f"{what} is longer than {limit} characters")
    return cleaned


def _tax_rate(rate: Decimal | None) -> Decimal | None:
    if rate is None:
        return None
    if not rate.is_finite() or not Decimal(0) <= rate <= HUNDRED:
        raise InvalidProduct("taxRate must be a percentage between 0 and 100")
    return rate


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    unit_price: Money
    tax_rate: Decimal | None  # percent
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(
        cls,
        *,
        id: str,
        sku: str,
        name: str,
        unit_price: Money,
        tax_rate: Decimal | None,
        active: bool,
        at: datetime,
    ) -> Product:
        return cls(
            id=id,
            sku=_clean(sku, "sku", MAX_SKU_LENGTH),
            name=_clean(name, "name", MAX_PRODUCT_NAME_LENGTH),
            unit_price=unit_price,
            tax_rate=_tax_rate(tax_rate),
            active=active,
            version=1,
            created_at=at,
            updated_at=at,
        )

    def changed(
        self,
        *,
        name: str | None,
        unit_price: Money | None,
        tax_rate: Decimal | None,
        clear_tax_rate: bool,
        active: bool | None,
        at: datetime,
    ) -> Product:
        """A new version with the given fields changed (None: unchanged)."""
        return replace(
            self,
            name=self.name if name is None else _clean(name, "name", MAX_PRODUCT_NAME_LENGTH),
            unit_price=self.unit_price if unit_price is None else unit_price,
            tax_rate=None
            if clear_tax_rate
            else (self.tax_rate if tax_rate is None else _tax_rate(tax_rate)),
            active=self.active if active is None else active,
            version=self.version + 1,
            updated_at=at,
        )


@dataclass(frozen=True, slots=True)
class LineItemRequest:
    """One wanted line: the product, how many, and optionally its own price and a discount."""

    product_id: str
    quantity: Decimal
    unit_price: Money | None = None
    discount_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LineItem:
    """A priced line, its product's sku and name copied (a quote freezes these)."""

    product_id: str
    sku: str
    name: str
    quantity: Decimal
    unit_price: Money
    discount_percent: Decimal
    total: Money


def line_total(quantity: Decimal, unit_price: Money, discount_percent: Decimal) -> Money:
    exact = quantity * unit_price.amount * (HUNDRED - discount_percent) / HUNDRED
    minor = Decimal(1).scaleb(-unit_price.minor_units)
    return Money(exact.quantize(minor, rounding=ROUND_HALF_EVEN), unit_price.currency)


def price_lines(
    requests: Sequence[LineItemRequest], products: Mapping[str, Product]
) -> list[LineItem]:
    """Priced lines, or ``InvalidLineItem`` naming the first bad one (nothing half-applied)."""
    if len(requests) > MAX_LINE_ITEMS:
        raise InvalidLineItem(f"at most {MAX_LINE_ITEMS} line items", reason="TOO_MANY_ITEMS")
    lines: list[LineItem] = []
    for index, request in enumerate(requests):
        where = f"items[{index}]"
        product = products.get(request.product_id)
        if product is None:
            raise InvalidLineItem(
                f"{where}.productId: unknown product {request.product_id}",
                field=f"{where}.productId",
                reason="UNKNOWN_PRODUCT",
            )
        if not product.active:
            raise InvalidLineItem(
                f"{where}.productId: product {product.sku} is inactive",
                field=f"{where}.productId",
                reason="INACTIVE_PRODUCT",
            )
        quantity = request.quantity
        if not quantity.is_finite() or quantity <= 0 or quantity >= MAX_QUANTITY:
            raise InvalidLineItem(
                f"{where}.quantity: must be positive (and below 1e9)",
                field=f"{where}.quantity",
                reason="INVALID_QUANTITY",
            )
        discount = request.discount_percent if request.discount_percent is not None else Decimal(0)
        if not discount.is_finite() or not Decimal(0) <= discount <= HUNDRED:
            raise InvalidLineItem(
                f"{where}.discountPercent: must be between 0 and 100",
                field=f"{where}.discountPercent",
                reason="INVALID_DISCOUNT",
            )
        price = request.unit_price or product.unit_price
        if lines and price.currency != lines[0].unit_price.currency:
            raise InvalidLineItem(
                f"{where}: priced in {price.currency}, the other items in "
                f"{lines[0].unit_price.currency}: a deal has one currency",
                field=f"{where}.unitPrice",
                reason="MIXED_CURRENCIES",
            )
        lines.append(
            LineItem(
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                quantity=quantity,
                unit_price=price,
                discount_percent=discount,
                total=line_total(quantity, price, discount),
            )
        )
    return lines


def lines_sum(lines: Sequence[LineItem]) -> Money | None:
    if not lines:
        return None
    total = lines[0].total
    for line in lines[1:]:
        total = total + line.total
    return total
