"""Use cases with an in-memory repository: permissions, references, batching, cursors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crm_common.errors import BadUserInput, Forbidden
from crm_common.identity import Identity
from customers.domain.commands import CreateCustomer
from customers.domain.model import Customer, CustomerKind
from customers.service_layer import services
from customers.service_layer.ports import CustomerQuery, Page, Sort, SortField

REP = Identity(user_id="rep-1", name="Rep", roles=frozenset({"rep"}))
MANAGER = Identity(user_id="mgr-1", name="Manager", roles=frozenset({"manager"}))
SERVICE = Identity(user_id="svc", name="Reports", roles=frozenset({"service"}))


class FakeRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Customer] = {}
        self.calls: list[str] = []

    async def add(self, customer: Customer) -> None:
        self.calls.append("add")
        assert customer.events, "a new customer carries its created event into the outbox"
        self.rows[customer.id] = customer

    async def get(self, customer_id: str) -> Customer | None:
        self.calls.append("get")
        return self.rows.get(customer_id)

    async def get_many(self, customer_ids: Sequence[str]) -> list[Customer]:
        self.calls.append("get_many")
        return [self.rows[i] for i in reversed(customer_ids) if i in self.rows]

    async def resolve_many(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        self.calls.append("resolve_many")
        found = {i: self.rows[i] for i in customer_ids if i in self.rows}
        for customer in self.rows.values():
            for merged in customer.merged_ids:
                if merged in customer_ids:
                    found[merged] = customer
        return found

    async def contacts_of(self, company_ids: Sequence[str]) -> list[Customer]:
        self.calls.append("contacts_of")
        return [c for c in self.rows.values() if c.company_id in company_ids]

    async def page(self, query: CustomerQuery, first: int, after_id: str | None) -> Page:
        rows = sorted(self.rows.values(), key=lambda c: c.id)
        rows = [c for c in rows if after_id is None or c.id > after_id]
        return Page(items=rows[:first], has_next=len(rows) > first)

    async def count(self, query: CustomerQuery) -> int:
        return len(self.rows)


async def test_create_defaults_owner_to_caller() -> None:
    repository = FakeRepository()
    customer = await services.create_customer(
        CreateCustomer(kind=CustomerKind.PERSON, name="Ada"), REP, repository
    )
    assert customer.owner_id == "rep-1"
    assert repository.rows[customer.id] is customer


async def test_only_managers_and_admins_assign_other_owners() -> None:
    repository = FakeRepository()
    command = CreateCustomer(kind=CustomerKind.PERSON, name="Ada", owner_id="rep-2")
    with pytest.raises(Forbidden):
        await services.create_customer(command, REP, repository)
    created = await services.create_customer(command, MANAGER, repository)
    assert created.owner_id == "rep-2"
    with pytest.raises(Forbidden):
        await services.create_customer(
            CreateCustomer(kind=CustomerKind.PERSON, name="Ada"), SERVICE, repository
        )


async def test_company_must_exist_and_nothing_is_written_otherwise() -> None:
    repository = FakeRepository()
    with pytest.raises(BadUserInput, match="companyId"):
        await services.create_customer(
            CreateCustomer(kind=CustomerKind.PERSON, name="Ada", company_id="nope"),
            REP,
            repository,
        )
    assert repository.rows == {}
    assert repository.calls == ["resolve_many"]


async def test_customers_by_ids_keeps_order_handles_missing_and_duplicates_in_one_call() -> None:
    repository = FakeRepository()
    a = Customer.create(kind=CustomerKind.PERSON, name="A", owner_id="o")
    b = Customer.create(kind=CustomerKind.PERSON, name="B", owner_id="o")
    repository.rows = {a.id: a, b.id: b}
    result = await services.customers_by_ids([b.id, "missing", a.id, b.id], repository)
    assert result == [b, None, a, b]
    assert repository.calls == ["resolve_many"]


async def test_contacts_by_company_groups_in_one_call() -> None:
    repository = FakeRepository()
    acme = Customer.create(kind=CustomerKind.COMPANY, name="Acme", owner_id="o")
    zed = Customer.create(kind=CustomerKind.PERSON, name="zed", owner_id="o", company=acme)
    amy = Customer.create(kind=CustomerKind.PERSON, name="Amy", owner_id="o", company=acme)
    repository.rows = {c.id: c for c in (acme, zed, amy)}
    assert await services.contacts_by_company([acme.id, "other"], repository) == [[amy, zed], []]
    assert repository.calls == ["contacts_of"]


def test_cursors_round_trip_and_foreign_cursors_are_bad_input() -> None:
    customer = Customer.create(kind=CustomerKind.PERSON, name="Ada", owner_id="o")
    by_name = Sort(SortField.NAME)
    assert services.decode_sorted(services.cursor_for(customer, Sort()), Sort()) == (
        customer.id,
        customer.id,
    )
    assert services.decode_sorted(services.cursor_for(customer, by_name), by_name) == (
        "ada",
        customer.id,
    )
    another_sort = services.cursor_for(customer, by_name)
    for bad in ("!!!", "Zm9v", "", another_sort):
        with pytest.raises(BadUserInput, match="after"):
            services.decode_sorted(bad, Sort())


async def test_page_size_is_bounded() -> None:
    with pytest.raises(BadUserInput, match="first"):
        await services.list_customers(CustomerQuery(), 101, None, FakeRepository())
    with pytest.raises(BadUserInput, match="first"):
        await services.list_customers(CustomerQuery(), -1, None, FakeRepository())
