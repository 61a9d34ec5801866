"""The catalogue's queries and mutations (merged into the pipeline subgraph's root types)."""

from __future__ import annotations

import strawberry

from crm_common.errors import BadUserInput
from crm_common.pagination import page_size
from pipeline.domain.model import UNSET
from pipeline.entrypoints.catalogue_types import (
    CreateProductInput,
    LineItemInput,
    Product,
    ProductConnection,
    ProductFilter,
    UpdateProductInput,
    product_connection,
)
from pipeline.entrypoints.graphql_inputs import MoneyInput
from pipeline.entrypoints.graphql_types import (
    Ctx,
    Opportunity,
    described_field,
    described_mutation,
)
from pipeline.service_layer import catalogue, commands
from pipeline.service_layer.ports import ProductFilter as ProductQuery


@strawberry.type
class CatalogueQuery:
    @described_field("The product catalogue, by sku.")
    async def products(
        self,
        info: Ctx,
        filter: ProductFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> ProductConnection | None:
        size = page_size(first)
        where = ProductQuery(
            active=filter.active if filter else None,
            name_contains=filter.name_contains if filter else None,
        )
        page = await info.context.services.uow.products.page(where, size, after)
        return product_connection(page, after)

    @strawberry.field
    async def product(self, info: Ctx, id: strawberry.ID) -> Product | None:
        found = await info.context.services.uow.products.get(str(id))
        return Product.of(found) if found else None


@strawberry.type
class CatalogueMutation:
    @described_mutation("Add a product to the catalogue (managers and admins).")
    async def create_product(self, info: Ctx, input: CreateProductInput) -> Product:
        product = await catalogue.create_product(
            commands.CreateProduct(
                sku=input.sku,
                name=input.name,
                unit_price=(input.unit_price.amount, input.unit_price.currency),
                tax_rate=input.tax_rate,
                active=input.active,
                actor=info.context.actor,
            ),
            info.context.services.uow,
        )
        return Product.of(product)

    @described_mutation("Change a product (existing deals keep the prices they were given).")
    async def update_product(
        self,
        info: Ctx,
        id: strawberry.ID,
        input: UpdateProductInput,
        expected_version: int | None = None,
    ) -> Product:
        for required in ("name", "unit_price", "active"):
            if getattr(input, required) is None:
                raise BadUserInput(f"{required} cannot be null", field=required)
        price = input.unit_price if isinstance(input.unit_price, MoneyInput) else None
        product = await catalogue.update_product(
            commands.UpdateProduct(
                product_id=str(id),
                name=input.name if isinstance(input.name, str) else None,
                unit_price=(price.amount, price.currency) if price else None,
                tax_rate=UNSET if input.tax_rate is strawberry.UNSET else input.tax_rate,
                active=input.active if isinstance(input.active, bool) else None,
                expected_version=expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
        )
        return Product.of(product)

    @described_mutation(
        "Replace a deal's line items; its amount becomes their exact sum (half-even per line "
        "to the currency's minor unit). No items: the lines are cleared, the amount stays. "
        "Emits pipeline.opportunity.updated with lineItems and amount before and after."
    )
    async def set_line_items(
        self,
        info: Ctx,
        opportunity_id: strawberry.ID,
        items: list[LineItemInput],
        expected_version: int | None = None,
    ) -> Opportunity:
        opportunity = await catalogue.set_line_items(
            commands.SetLineItems(
                opportunity_id=str(opportunity_id),
                items=[
                    commands.LineItemWanted(
                        product_id=str(item.product_id),
                        quantity=item.quantity,
                        unit_price=(item.unit_price.amount, item.unit_price.currency)
                        if item.unit_price
                        else None,
                        discount_percent=item.discount_percent,
                    )
                    for item in items
                ],
                expected_version=expected_version,
                actor=info.context.actor,
            ),
            info.context.services.uow,
        )
        return Opportunity.of(opportunity)
