"""MongoDB shape of the product catalogue (collection ``products``) and of a deal's line
items (embedded in its document)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_common.errors import BadUserInput
from crm_common.fragments import fold_text
from crm_common.pagination import KeysetCursor
from pipeline.domain.catalogue import LineItem, Product
from pipeline.domain.money import Money
from pipeline.service_layer.ports import ProductFilter, ProductPage

Document = dict[str, Any]
PRODUCTS = "products"
#: The catalogue by sku, then id.
PRODUCT_CURSORS = KeysetCursor("product:sku")


def money_document(money: Money) -> Document:
    return {"amount": Decimal128(money.formatted_amount()), "currency": money.currency}


def money_of_document(doc: Document) -> Money:
    amount = doc["amount"]
    value = amount.to_decimal() if isinstance(amount, Decimal128) else Decimal(str(amount))
    return Money(value, doc["currency"])


def _decimal(value: Any) -> Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(str(value))


def line_item_to_doc(line: LineItem) -> Document:
    return {
        "product_id": line.product_id,
        "sku": line.sku,
        "name": line.name,
        "quantity": Decimal128(line.quantity),
        "unit_price": money_document(line.unit_price),
        "discount_percent": Decimal128(line.discount_percent),
        "total": money_document(line.total),
    }


def line_item_from_doc(doc: Document) -> LineItem:
    return LineItem(
        product_id=doc["product_id"],
        sku=doc["sku"],
        name=doc["name"],
        quantity=_decimal(doc["quantity"]),
        unit_price=money_of_document(doc["unit_price"]),
        discount_percent=_decimal(doc["discount_percent"]),
        total=money_of_document(doc["total"]),
    )


def product_to_doc(product: Product) -> Document:
    return {
        "_id": product.id,
        "sku": product.sku,
        "name": product.name,
        "name_search": fold_text(product.name),
        "unit_price": money_document(product.unit_price),
        "tax_rate": Decimal128(product.tax_rate) if product.tax_rate is not None else None,
        "active": product.active,
        "version": product.version,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def product_from_doc(doc: Document) -> Product:
    rate = doc.get("tax_rate")
    return Product(
        id=doc["_id"],
        sku=doc["sku"],
        name=doc["name"],
        unit_price=money_of_document(doc["unit_price"]),
        tax_rate=_decimal(rate) if rate is not None else None,
        active=doc["active"],
        version=doc["version"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def create_product_indexes(db: AsyncDatabase[Document]) -> None:
    products = db[PRODUCTS]
    await products.create_index([("sku", ASCENDING)], name="sku", unique=True)
    await products.create_index([("sku", ASCENDING), ("_id", ASCENDING)], name="by_sku")


class MongoProductRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._products: AsyncCollection[Document] = db[PRODUCTS]

    async def add(self, product: Product) -> None:
        try:
            await self._products.insert_one(product_to_doc(product))
        except DuplicateKeyError as exc:
            raise BadUserInput(
                f"sku: a product with sku {product.sku!r} exists",
                field="sku",
                reason="DUPLICATE_SKU",
            ) from exc

    async def get(self, product_id: str) -> Product | None:
        doc = await self._products.find_one({"_id": product_id})
        return product_from_doc(doc) if doc else None

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        cursor = self._products.find({"_id": {"$in": list(product_ids)}})
        return {doc["_id"]: product_from_doc(doc) async for doc in cursor}

    async def save(self, product: Product, loaded_version: int) -> bool:
        doc = product_to_doc(product)
        del doc["_id"]
        result = await self._products.update_one(
            {"_id": product.id, "version": loaded_version}, {"$set": doc}
        )
        return result.matched_count == 1

    async def page(self, where: ProductFilter, first: int, after: str | None) -> ProductPage:
        query: Document = {}
        if where.active is not None:
            query["active"] = where.active
        if where.name_contains:
            query["name_search"] = {"$regex": re.escape(fold_text(where.name_contains))}
        if after is not None:
            sku, last_id = PRODUCT_CURSORS.decode_str(after)
            query["$or"] = [{"sku": {"$gt": sku}}, {"sku": sku, "_id": {"$gt": last_id}}]
        cursor = self._products.find(
            query, sort=[("sku", ASCENDING), ("_id", ASCENDING)], limit=first + 1
        )
        docs = [doc async for doc in cursor]
        products = [product_from_doc(doc) for doc in docs[:first]]
        return ProductPage(
            items=[(PRODUCT_CURSORS.encode(p.sku, p.id), p) for p in products],
            has_next_page=len(docs) > first,
        )
