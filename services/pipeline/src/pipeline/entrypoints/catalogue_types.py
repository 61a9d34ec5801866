"""GraphQL types and inputs of the product catalogue and of line items."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from crm_common import relay
from crm_common.pagination import Page
from crm_common.relay import PageInfo
from pipeline.domain import catalogue
from pipeline.entrypoints.graphql_inputs import MoneyInput
from pipeline.entrypoints.graphql_types import Money
from pipeline.service_layer.ports import ProductPage


@strawberry.type
class Product:
    id: strawberry.ID
    sku: str
    name: str
    unit_price: Money
    tax_rate: Decimal | None = strawberry.field(description="Percent, e.g. 19.")
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: catalogue.Product) -> Product:
        return cls(
            id=strawberry.ID(product.id),
            sku=product.sku,
            name=product.name,
            unit_price=Money.of(product.unit_price),
            tax_rate=product.tax_rate,
            active=product.active,
            version=product.version,
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo


def product_connection(page: ProductPage, after: str | None) -> ProductConnection:
    edges, page_info = relay.connection(
        Page(page.items, page.has_next_page, after is not None),
        lambda cursor, p: ProductEdge(cursor=cursor, node=Product.of(p)),
    )
    return ProductConnection(edges=edges, page_info=page_info)


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    unit_price: MoneyInput
    tax_rate: Decimal | None = None
    active: bool = True


@strawberry.input(description="Only the fields given change; taxRate null clears it.")
class UpdateProductInput:
    name: str | None = strawberry.UNSET
    unit_price: MoneyInput | None = strawberry.UNSET
    tax_rate: Decimal | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input
class ProductFilter:
    active: bool | None = None
    name_contains: str | None = None


@strawberry.input
class LineItemInput:
    product_id: strawberry.ID
    quantity: Decimal
    unit_price: MoneyInput | None = strawberry.field(
        default=None, description="Default: the product's price."
    )
    discount_percent: Decimal | None = strawberry.field(default=None, description="0 to 100.")
