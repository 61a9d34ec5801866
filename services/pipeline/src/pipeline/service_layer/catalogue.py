"""Use cases of the product catalogue and of a deal's line items; each takes (command, uow)."""

from __future__ import annotations

from crm_common.errors import BadUserInput, Conflict, NotFound
from pipeline.domain import access
from pipeline.domain.catalogue import InvalidLineItem, LineItemRequest, Product, price_lines
from pipeline.domain.model import Opportunity, Pipeline, Unset
from pipeline.domain.money import Money
from pipeline.service_layer.commands import CreateProduct, SetLineItems, UpdateProduct
from pipeline.service_layer.services import (
    Clock,
    IdFactory,
    change_opportunity,
    new_id,
    now,
    user_input,
)
from pipeline.service_layer.unit_of_work import UnitOfWork


async def create_product(
    cmd: CreateProduct, uow: UnitOfWork, *, clock: Clock = now, make_id: IdFactory = new_id
) -> Product:
    with user_input():
        access.require_catalogue_editor(cmd.actor.viewer)
        product = Product.create(
            id=make_id(),
            sku=cmd.sku,
            name=cmd.name,
            unit_price=Money.of(*cmd.unit_price),
            tax_rate=cmd.tax_rate,
            active=cmd.active,
            at=clock(),
        )
    await uow.products.add(product)
    return product


async def update_product(cmd: UpdateProduct, uow: UnitOfWork, *, clock: Clock = now) -> Product:
    with user_input():
        access.require_catalogue_editor(cmd.actor.viewer)
        price = Money.of(*cmd.unit_price) if cmd.unit_price is not None else None
    product = await uow.products.get(cmd.product_id)
    if product is None:
        raise NotFound(f"product {cmd.product_id} does not exist")
    if cmd.expected_version is not None and cmd.expected_version != product.version:
        raise _conflict(product)
    clear = not isinstance(cmd.tax_rate, Unset) and cmd.tax_rate is None
    with user_input():
        changed = product.changed(
            name=cmd.name,
            unit_price=price,
            tax_rate=None if isinstance(cmd.tax_rate, Unset) else cmd.tax_rate,
            clear_tax_rate=clear,
            active=cmd.active,
            at=clock(),
        )
    if not await uow.products.save(changed, product.version):
        current = await uow.products.get(cmd.product_id)
        raise _conflict(current or product)
    return changed


def _conflict(product: Product) -> Conflict:
    return Conflict(
        f"product {product.id} is at version {product.version}: reload it and try again",
        currentVersion=product.version,
    )


async def set_line_items(cmd: SetLineItems, uow: UnitOfWork, *, clock: Clock = now) -> Opportunity:
    """The deal's line items replaced and its amount their exact sum, in one write with its
    ``updated`` event; a bad item is BAD_USER_INPUT and nothing is written."""
    with user_input():
        requests = [
            LineItemRequest(
                product_id=item.product_id,
                quantity=item.quantity,
                unit_price=Money.of(*item.unit_price) if item.unit_price is not None else None,
                discount_percent=item.discount_percent,
            )
            for item in cmd.items
        ]
    products = await uow.products.get_many(sorted({r.product_id for r in requests}))
    try:
        lines = price_lines(requests, products)
    except InvalidLineItem as exc:
        raise BadUserInput(exc.message, field=exc.field, reason=exc.reason) from exc

    async def change(opportunity: Opportunity, pipeline: Pipeline) -> None:
        # The deal takes the items' currency: its amount is their sum.
        opportunity.set_line_items(lines, pipeline=pipeline, actor_id=cmd.actor.user_id, at=clock())

    return await change_opportunity(
        cmd.opportunity_id, cmd.expected_version, change, uow, actor=cmd.actor
    )
