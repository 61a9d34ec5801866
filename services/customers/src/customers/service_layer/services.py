"""Use cases of the customer archive: one async function per command or query.

Each takes its ports (repositories) as parameters, so that the entry points compose them
and tests can hand in fakes. Events travel with the aggregate into the repository, whose
write stores them in the outbox in the same document write.

Visibility (docs/CONVENTIONS.md): a rep sees and changes the customers they own, a manager
those of their team (and their own), an admin all; a ``service`` token changes nothing and
reads no customer. A denied single read or write is ``FORBIDDEN`` and writes nothing; lists
are filtered.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crm_common import access
from crm_common.access import Kind
from crm_common.errors import BadUserInput, Conflict, Forbidden, NotFound
from crm_common.identity import Identity
from crm_common.pagination import KeysetCursor, page_size
from customers.domain.commands import CreateCustomer
from customers.domain.interactions import Interaction
from customers.domain.model import AuditEntry, Customer, InteractionKind
from customers.domain.search_terms import name_similarity
from customers.domain.values import NAME_MAX, normalise_id
from customers.service_layer.ports import (
    AuditRepository,
    CustomerQuery,
    CustomerRepository,
    InteractionRepository,
    Page,
    Scope,
    Sort,
    SortField,
    TimelinePage,
)

log = logging.getLogger(__name__)


# --- visibility (crm_common.access, over customers) -------------------------------------------


def scope_of(actor: Identity) -> Scope | None:
    """The records ``actor`` may see (None: everything)."""
    scope = access.read_scope(actor, Kind.CUSTOMER)
    return None if scope.all else scope


def can_see(actor: Identity, customer: Customer) -> bool:
    return access.can_read(actor, Kind.CUSTOMER, customer.owner_id, customer.team)


def require_visible(actor: Identity, customer: Customer) -> None:
    if not can_see(actor, customer):
        raise Forbidden(f"customer {customer.id} is not yours to see or change")


async def visible_company(
    actor: Identity, repository: CustomerRepository, company_id: str
) -> Customer:
    """The customer ``company_id`` names, if the caller may see it. One the caller may not
    see is answered exactly as one that does not exist: no existence oracle."""
    company = (await repository.resolve_many([company_id])).get(company_id)
    if company is None or not can_see(actor, company):
        raise BadUserInput(f"companyId: no customer has the id {company_id}", field="companyId")
    return company


def require_writer(actor: Identity) -> None:
    if not access.may_change_any(actor, Kind.CUSTOMER):
        raise Forbidden("changing customers needs the role rep, manager or admin")


def may_assign(actor: Identity) -> bool:
    """Whether ``actor`` may give customers to other owners (a manager or an admin)."""
    return access.beyond_own(actor, Kind.CUSTOMER, access.CHANGE)


def _check_owner_assignment(actor: Identity, owner_id: str) -> None:
    if owner_id != actor.user_id and not may_assign(actor):
        raise Forbidden("only a manager or an admin may give a customer to another owner")


def _team_for(actor: Identity, requested: str | None) -> str | None:
    if requested is not None and requested != actor.team:
        if not actor.is_admin:
            raise Forbidden("only an admin may name another team")
        return requested
    return actor.team


# --- profile -------------------------------------------------------------------------------


async def create_customer(
    command: CreateCustomer,
    actor: Identity,
    repository: CustomerRepository,
    phone_region: str | None = None,
) -> Customer:
    require_writer(actor)
    owner_id = normalise_id(command.owner_id, "ownerId") or actor.user_id
    _check_owner_assignment(actor, owner_id)
    team = _team_for(actor, normalise_id(command.team, "team"))
    company = None
    company_id = normalise_id(command.company_id, "companyId")
    if company_id is not None:
        company = await visible_company(actor, repository, company_id)
    customer = Customer.create(
        kind=command.kind,
        name=command.name,
        owner_id=owner_id,
        email=command.email,
        phone=command.phone,
        emails=command.emails,
        phones=command.phones,
        company=company,
        source=command.source,
        lifecycle=command.lifecycle,
        tags=command.tags,
        attributes=command.attributes,
        address=command.address,
        external_id=command.external_id,
        team=team,
        actor_id=actor.user_id,
        actor_name=actor.name,
        phone_region=phone_region,
    )
    await repository.add(customer)
    return customer


async def customers_by_ids(
    customer_ids: Sequence[str], repository: CustomerRepository
) -> list[Customer | None]:
    """One customer (or None) per id, in the order asked, with a single repository query;
    an id merged into another customer yields the survivor."""
    found = await repository.resolve_many(list(dict.fromkeys(customer_ids)))
    return [found.get(customer_id) for customer_id in customer_ids]


async def visible_customer(
    customer_id: str, actor: Identity, repository: CustomerRepository
) -> Customer:
    found = (await repository.resolve_many([customer_id])).get(customer_id)
    if found is None:
        raise NotFound(f"no customer has the id {customer_id}", field="id")
    require_visible(actor, found)
    return found


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


async def update_customer(
    customer_id: str,
    changes: dict[str, Any],
    expected_version: int | None,
    actor: Identity,
    repository: CustomerRepository,
    *,
    lifecycle_reason: str | None = None,
    phone_region: str | None = None,
) -> Customer:
    """Applies the given fields (only those present). With ``expectedVersion`` a customer
    changed meanwhile is a ``CONFLICT`` and nothing is written."""
    require_writer(actor)
    customer = await visible_customer(customer_id, actor, repository)  # merged ids resolve
    if expected_version is not None and expected_version != customer.version:
        raise Conflict(
            f"customer {customer_id} is at version {customer.version}, not {expected_version}",
            field="expectedVersion",
            currentVersion=customer.version,
        )
    changes = dict(changes)
    change_company = "companyId" in changes
    company = None
    if change_company:
        company_id = normalise_id(changes.pop("companyId"), "companyId")
        if company_id is not None:
            company = await visible_company(actor, repository, company_id)
    if "ownerId" in changes:
        owner = normalise_id(changes["ownerId"], "ownerId")
        if owner is not None and owner != customer.owner_id:
            _check_owner_assignment(actor, owner)
    if "team" in changes and changes["team"] != customer.team and not actor.is_admin:
        raise Forbidden("only an admin may move a customer to another team")
    version = customer.version
    customer.update(
        changes,
        change_company=change_company,
        company=company,
        lifecycle_reason=lifecycle_reason,
        actor_id=actor.user_id,
        actor_name=actor.name,
        phone_region=phone_region,
    )
    if customer.version != version:
        await repository.save(customer, version)
    return customer


# --- lists and cursors ---------------------------------------------------------------------


def _sort_value(customer: Customer, sort: Sort) -> Any:
    if sort.field is SortField.NAME:
        from customers.domain.values import fold

        return fold(customer.name)
    if sort.field is SortField.CREATED_AT:
        return customer.created_at.astimezone(UTC).isoformat()
    if sort.field is SortField.UPDATED_AT:
        return customer.updated_at.astimezone(UTC).isoformat()
    return customer.id


def _cursors(sort: Sort) -> KeysetCursor:
    """A cursor names the sort of its list, so a cursor of another sort is refused."""
    return KeysetCursor(f"customer:{sort.field.value}:{'desc' if sort.descending else 'asc'}")


def cursor_for(customer: Customer, sort: Sort) -> str:
    return _cursors(sort).encode(_sort_value(customer, sort), customer.id)


def decode_sorted(after: str, sort: Sort) -> tuple[str, str]:
    """The (sort value, id) key of a cursor of the list in this sort."""
    value, customer_id = _cursors(sort).decode(after)
    if not isinstance(value, str) or not isinstance(customer_id, str) or not customer_id:
        raise BadUserInput("after: not a cursor of this connection", field="after")
    return value, customer_id


async def list_customers(
    query: CustomerQuery,
    first: int | None,
    after: str | None,
    repository: CustomerRepository,
    *,
    actor: Identity | None = None,
    sort: Sort | None = None,
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """A page in sort order after the cursor, and how to count every match of the filter
    (only the customers the actor may see): a count reads all matches, so it is left to the
    caller to run only when a client asks for it."""
    sort = sort or Sort()
    size = page_size(first)
    key = decode_sorted(after, sort) if after else None
    fragments: dict[str, str | None] = {}
    for name in ("name_contains", "email_contains", "phone_contains", "search"):
        fragment = (getattr(query, name) or "").strip()
        if len(fragment) > NAME_MAX:
            raise BadUserInput(f"{name}: at most {NAME_MAX} characters", field=name)
        fragments[name] = fragment or None
    if fragments["phone_contains"] and not any(ch.isdigit() for ch in fragments["phone_contains"]):
        raise BadUserInput("phoneContains: give some digits", field="phoneContains")
    query = replace(query, **fragments)  # type: ignore[arg-type]
    if actor is not None:
        query = replace(query, scope=scope_of(actor))
    page = await repository.page(query, sort, size, key)
    if key is None and not page.has_next and size > 0:
        # The first page holds every match: counting them again would read them again.
        return page, functools.partial(_known, len(page.items))
    return page, functools.partial(repository.count, query)


async def _known(count: int) -> int:
    return count


# --- timeline ------------------------------------------------------------------------------


TIMELINE_CURSORS = KeysetCursor("interaction")


def encode_timeline_cursor(interaction: Interaction) -> str:
    return TIMELINE_CURSORS.encode(interaction.occurred_at.isoformat(), interaction.id)


def decode_timeline_cursor(cursor: str) -> tuple[datetime, str]:
    at, interaction_id = TIMELINE_CURSORS.decode_str(cursor)
    try:
        return datetime.fromisoformat(at), interaction_id
    except ValueError as exc:
        raise BadUserInput("after: not a cursor of this connection", field="after") from exc


async def log_interaction(
    customer_id: str,
    kind: InteractionKind,
    summary: str | None,
    details: object,
    occurred_at: datetime | None,
    actor: Identity,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    *,
    opportunity_id: str | None = None,
) -> Interaction:
    require_writer(actor)
    if kind in (
        InteractionKind.STAGE_CHANGE,
        InteractionKind.LIFECYCLE_CHANGE,
        InteractionKind.TASK_DONE,
    ):
        raise BadUserInput(
            f"kind: {kind.value} entries are written by the archive itself", field="kind"
        )
    customer = await visible_customer(customer_id, actor, customers)
    interaction = Interaction.log(
        customer_id=customer.id,
        kind=kind,
        summary=summary,
        details=details,
        occurred_at=occurred_at,
        actor_id=actor.user_id,
        actor_name=actor.name,
        opportunity_id=normalise_id(opportunity_id, "opportunityId"),
    )
    await interactions.add(interaction)
    return interaction


async def timeline(
    customer_id: str,
    kinds: Sequence[InteractionKind],
    occurred_from: datetime | None,
    occurred_to: datetime | None,
    first: int | None,
    after: str | None,
    interactions: InteractionRepository,
) -> tuple[TimelinePage, int]:
    size = page_size(first)
    key = decode_timeline_cursor(after) if after else None
    page = await interactions.page(customer_id, kinds, occurred_from, occurred_to, size, key)
    total = await interactions.count(customer_id, kinds, occurred_from, occurred_to)
    return page, total


# --- duplicates and merge ------------------------------------------------------------------

SIMILAR_NAME = 0.8


async def duplicate_candidates(
    customer_id: str, actor: Identity, repository: CustomerRepository, limit: int = 50
) -> list[Customer]:
    """Same normalised e-mail or phone, or a similar name (same company for people), among
    the customers the actor may see; strongest first."""
    customer = await visible_customer(customer_id, actor, repository)
    scored: list[tuple[float, Customer]] = []
    for other in await repository.duplicates_of(customer, 500):
        if not can_see(actor, other) or other.id == customer.id:
            continue
        score = 0.0
        if set(other.emails) & set(customer.emails):
            score = 1.0
        elif set(other.phones) & set(customer.phones):
            score = 0.95
        elif other.kind == customer.kind and other.company_id == customer.company_id:
            similarity = name_similarity(customer.name, other.name)
            if similarity >= SIMILAR_NAME:
                score = similarity * 0.9
        if score > 0:
            scored.append((score, other))
    scored.sort(key=lambda pair: (-pair[0], pair[1].id))
    return [other for _, other in scored[:limit]]


# Merges and transfers (several writes each, crash-safe): service_layer/operations.py.


# --- audit ---------------------------------------------------------------------------------


async def audit_trail(
    customer_ids: Sequence[str], first: int | None, after: str | None, audit: AuditRepository
) -> tuple[list[AuditEntry], bool]:
    """The changes of a customer and of the customers merged into it, newest first."""
    size = page_size(first)
    key = None
    if after:
        at, entry_id = AUDIT_CURSORS.decode_str(after)
        key = f"{at}\x00{entry_id}"
    return await audit.page(list(customer_ids), size, key)


AUDIT_CURSORS = KeysetCursor("audit")


def audit_cursor(entry: AuditEntry) -> str:
    return AUDIT_CURSORS.encode(entry.at.astimezone(UTC).isoformat(), entry.id)
