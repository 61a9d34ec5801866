"""Use cases of the customer archive: one async function per command or query.

Each takes its ports (the repository) as parameters, so that the entry points compose them
and tests can hand in fakes. Events travel with the aggregate into the repository, whose
write stores them in the outbox in the same document write.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import replace

from crm_common.errors import BadUserInput, Forbidden
from crm_common.identity import Identity
from customers.domain.commands import CreateCustomer
from customers.domain.model import NAME_MAX, Customer, normalise_id
from customers.service_layer.ports import CustomerQuery, CustomerRepository, Page

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_CURSOR_PREFIX = "customer:"

WRITER_ROLES = frozenset({"rep", "manager", "admin"})
ASSIGNER_ROLES = frozenset({"manager", "admin"})


async def create_customer(
    command: CreateCustomer,
    actor: Identity,
    repository: CustomerRepository,
) -> Customer:
    if not actor.roles & WRITER_ROLES:
        raise Forbidden("creating customers needs the role rep, manager or admin")
    owner_id = normalise_id(command.owner_id, "ownerId") or actor.user_id
    if owner_id != actor.user_id and not actor.roles & ASSIGNER_ROLES:
        raise Forbidden("only a manager or an admin may create a customer for another owner")
    company = None
    company_id = normalise_id(command.company_id, "companyId")
    if company_id is not None:
        company = await repository.get(company_id)
        if company is None:
            raise BadUserInput(f"companyId: no customer has the id {company_id}", field="companyId")
    customer = Customer.create(
        kind=command.kind,
        name=command.name,
        owner_id=owner_id,
        email=command.email,
        phone=command.phone,
        company=company,
        source=command.source,
        lifecycle=command.lifecycle,
        tags=command.tags,
        attributes=command.attributes,
        actor_id=actor.user_id,
        actor_name=actor.name,
    )
    await repository.add(customer)
    return customer


async def customers_by_ids(
    customer_ids: Sequence[str], repository: CustomerRepository
) -> list[Customer | None]:
    """One customer (or None) per id, in the order asked, with a single repository query."""
    found = {c.id: c for c in await repository.get_many(list(dict.fromkeys(customer_ids)))}
    return [found.get(customer_id) for customer_id in customer_ids]


async def contacts_by_company(
    company_ids: Sequence[str], repository: CustomerRepository
) -> list[list[Customer]]:
    """The contacts of each company, in the order asked, with a single repository query."""
    grouped: dict[str, list[Customer]] = {company_id: [] for company_id in company_ids}
    for contact in await repository.contacts_of(list(grouped)):
        if contact.company_id is not None and contact.company_id in grouped:
            grouped[contact.company_id].append(contact)
    for contacts in grouped.values():
        contacts.sort(key=lambda c: (c.name.casefold(), c.id))
    return [grouped[company_id] for company_id in company_ids]


def encode_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{customer_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadUserInput("after: not a cursor of this connection", field="after") from exc
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
        raise BadUserInput("after: not a cursor of this connection", field="after")
    return raw.removeprefix(_CURSOR_PREFIX)


async def list_customers(
    query: CustomerQuery,
    first: int | None,
    after: str | None,
    repository: CustomerRepository,
) -> tuple[Page, int]:
    """A page in id order after the cursor, and the total count of the filter."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first: must be between 0 and {MAX_PAGE_SIZE}", field="first")
    after_id = decode_cursor(after) if after else None
    fragment = (query.name_contains or "").strip()
    if len(fragment) > NAME_MAX:
        raise BadUserInput(f"nameContains: at most {NAME_MAX} characters", field="nameContains")
    query = replace(query, name_contains=fragment or None)
    page = await repository.page(query, size, after_id)
    total = await repository.count(query)
    return page, total
