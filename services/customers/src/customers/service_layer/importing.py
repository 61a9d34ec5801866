"""CSV import and export of the archive.

Import streams: rows are read one at a time from any iterable of lines (a string split
lazily, or a spooled request body), handled in chunks of ``CHUNK`` rows (one lookup query and
one batch insert per chunk), and forgotten. A row is created, updated (upsert by ``id``,
``externalId`` or e-mail, in that order), left unchanged, or reported with its line number;
a bad row never stops the others, and a dry run writes nothing.

A row links its customer to a company by ``companyId`` or ``companyExternalId``, resolved
against the archive and every earlier row of the file (also one of the same chunk, not yet
written: the chunk's companies are inserted before its other customers). Two imports of the
same file at once cannot store a customer twice: the unique index on the external id refuses
the second insert, and the row updates the customer the first import stored instead.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from crm_common import access
from crm_common.access import Kind, Reach
from crm_common.errors import (
    BadUserInput,
    Conflict,
    CrmError,
    Forbidden,
    RuleViolation,
    as_crm_error,
)
from crm_common.identity import Identity
from customers.domain.model import Customer, CustomerKind, LifecycleStage
from customers.domain.values import Address, LeadSource, normalise_email, normalise_id
from customers.service_layer.ports import CustomerQuery, CustomerRepository
from customers.service_layer.services import (
    _check_owner_assignment,
    _team_for,
    can_see,
    require_writer,
    scope_of,
    visible_company,
)

CHUNK = 500
MAX_ERRORS = 1000  # reported errors (the count is always exact)
# importCustomers(csv: String!) holds the whole file in memory (a GraphQL string): bounded, the
# streaming endpoint is for bigger files (setting CUSTOMERS_IMPORT_GRAPHQL_MAX_CHARS).
GRAPHQL_IMPORT_MAX_CHARS = 2 * 1024 * 1024
STREAMING_ENDPOINT = "POST /import/customers.csv"
LIST_SEPARATOR = ";"

# Header names are matched case-insensitively, ignoring spaces, dashes and underscores.
ALIASES: dict[str, str] = {
    "id": "id",
    "customerid": "id",
    "externalid": "externalId",
    "extid": "externalId",
    "externalreference": "externalId",
    "kind": "kind",
    "type": "kind",
    "name": "name",
    "fullname": "name",
    "email": "email",
    "emailaddress": "email",
    "emails": "emails",
    "phone": "phone",
    "telephone": "phone",
    "phonenumber": "phone",
    "phones": "phones",
    "companyid": "companyId",
    "companyexternalid": "companyExternalId",
    "companyextid": "companyExternalId",
    "street": "street",
    "city": "city",
    "postalcode": "postalCode",
    "zip": "postalCode",
    "postcode": "postalCode",
    "region": "region",
    "state": "region",
    "country": "country",
    "lifecycle": "lifecycle",
    "lifecyclestage": "lifecycle",
    "stage": "lifecycle",
    "owner": "ownerId",
    "ownerid": "ownerId",
    "team": "team",
    "tags": "tags",
    "channel": "channel",
    "source": "channel",
    "sourcechannel": "channel",
    "campaign": "campaign",
    "sourcecampaign": "campaign",
    "medium": "medium",
    "sourcemedium": "medium",
    "referrer": "referrer",
    "sourcereferrer": "referrer",
    "attributes": "attributes",
}

# The export's columns: the import reads them back unchanged.
EXPORT_COLUMNS = (
    "id",
    "externalId",
    "kind",
    "name",
    "email",
    "emails",
    "phone",
    "phones",
    "companyId",
    "street",
    "city",
    "postalCode",
    "region",
    "country",
    "lifecycle",
    "ownerId",
    "team",
    "tags",
    "channel",
    "campaign",
    "medium",
    "referrer",
    "attributes",
    "createdAt",
    "updatedAt",
)
_READ_ONLY = {"createdAt": "createdat", "updatedAt": "updatedat", "version": "version"}


@dataclass
class RowError:
    line: int
    message: str
    field: str | None = None


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def fail(self, line: int, error: Exception) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            api_error = as_crm_error(error)
            if api_error is not None:
                name = api_error.details.get("field")
                self.errors.append(RowError(line, api_error.message, str(name) if name else None))
            else:
                self.errors.append(RowError(line, str(error)))


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", header.strip().lstrip("\ufeff")).casefold()


def map_header(header: list[str]) -> tuple[list[str | None], list[str]]:
    columns: list[str | None] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for raw in header:
        key = _key(raw)
        name = ALIASES.get(key)
        if name is None or name in seen:
            columns.append(None)
            if key not in _READ_ONLY.values() and raw.strip():
                ignored.append(raw.strip().lstrip("\ufeff"))
            continue
        seen.add(name)
        columns.append(name)
    if "name" not in seen:
        raise BadUserInput("csv: the header row must have a name column", field="csv")
    return columns, ignored


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]


@dataclass
class Row:
    line: int
    values: dict[str, str]  # column -> non-empty cell (stripped)


def parse_row(values: dict[str, str]) -> dict[str, Any]:
    """The update fields of a row (only its non-empty cells)."""
    changes: dict[str, Any] = {}
    for name in (
        "name",
        "email",
        "phone",
        "externalId",
        "ownerId",
        "team",
        "companyId",
        "companyExternalId",
    ):
        if name in values:
            changes[name] = values[name]
    for name in ("emails", "phones", "tags"):
        if name in values:
            changes[name] = _split(values[name])
    if "lifecycle" in values:
        raw = values["lifecycle"].strip().upper()
        if raw not in LifecycleStage.__members__:
            raise BadUserInput(
                f"lifecycle: {values['lifecycle']!r} is not one of LEAD, PROSPECT, CUSTOMER, "
                "CHURNED",
                field="lifecycle",
            )
        changes["lifecycle"] = raw
    address = {
        key: values[column]
        for key, column in (
            ("street", "street"),
            ("city", "city"),
            ("postal_code", "postalCode"),
            ("region", "region"),
            ("country", "country"),
        )
        if column in values
    }
    if address:
        changes["address"] = address
    source = {
        key: values[key] for key in ("channel", "campaign", "medium", "referrer") if key in values
    }
    if source:
        changes["source"] = source
    if "attributes" in values:
        try:
            changes["attributes"] = json.loads(values["attributes"])
        except ValueError as exc:
            raise BadUserInput(f"attributes: not JSON ({exc})", field="attributes") from exc
    return changes


def _rows(lines: Iterable[str], report: ImportReport) -> Iterator[Row | tuple[int, Exception]]:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise BadUserInput("csv: empty, a header row is required", field="csv") from None
    except csv.Error as exc:
        raise BadUserInput(f"csv: unreadable header ({exc})", field="csv") from exc
    columns, report.ignored_columns = map_header(header)
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield last_line + 1, BadUserInput(f"csv: {exc}", field="csv")
            last_line = reader.line_num
            continue
        line = last_line + 1
        last_line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield (
                line,
                BadUserInput(
                    f"csv: {len(cells)} cells where the header has {len(columns)}", field="csv"
                ),
            )
            continue
        values = {
            column: restore_cell(cell.strip())
            for column, cell in zip(columns, cells, strict=True)
            if column is not None and cell.strip()
        }
        yield Row(line, values)


async def import_customers(
    lines: Iterable[str],
    dry_run: bool,
    actor: Identity,
    repository: CustomerRepository,
    *,
    phone_region: str | None = None,
) -> ImportReport:
    require_writer(actor)
    report = ImportReport(dry_run=dry_run)
    chunk: list[Row] = []
    for item in _rows(lines, report):
        report.rows += 1
        if isinstance(item, tuple):
            report.fail(*item)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK:
            await _import_chunk(chunk, dry_run, actor, repository, report, phone_region)
            chunk = []
    if chunk:
        await _import_chunk(chunk, dry_run, actor, repository, report, phone_region)
    return report


def _email_of(row: Row) -> str | None:
    raw = row.values.get("email")
    if raw is None and "emails" in row.values:
        parts = _split(row.values["emails"])
        raw = parts[0] if parts else None
    return normalise_email(raw)


class _Chunk:
    """What one chunk knows: the stored customers its rows name (one lookup), and the
    customers its earlier rows created or changed."""

    def __init__(self, existing: list[Customer]) -> None:
        self.by_id = {c.id: c for c in existing}
        self.by_external = {c.external_id: c for c in existing if c.external_id}
        self.by_email = {email: c for c in existing for email in c.emails}
        self.fresh: dict[str, Customer] = {}  # created by this chunk, not yet written
        self.rows_of: dict[str, list[tuple[Row, dict[str, Any]]]] = {}  # rows of a new one
        self.changed: dict[str, tuple[Customer, int, int]] = {}  # stored: (it, version, line)

    def remember(self, customer: Customer) -> None:
        self.by_id[customer.id] = customer
        if customer.external_id:
            self.by_external[customer.external_id] = customer
        for address in customer.emails:
            self.by_email.setdefault(address, customer)


async def _company(
    changes: dict[str, Any], chunk: _Chunk, repository: CustomerRepository, actor: Identity
) -> tuple[bool, Customer | None]:
    """Pops the company columns of a row; (whether it names a company, which one). A company
    the caller may not see is answered as an unknown one (the chunk holds only those they
    may see)."""
    external = changes.pop("companyExternalId", None)
    company_id = changes.pop("companyId", None)
    if external is not None:
        company = chunk.by_external.get(external)
        if company is None:
            raise BadUserInput(
                f"companyExternalId: no customer has the external id {external} (neither in "
                "the archive nor on an earlier line)",
                field="companyExternalId",
            )
        return True, company
    if company_id is not None:
        company = chunk.by_id.get(company_id)
        if company is None:
            company = await visible_company(actor, repository, company_id)
        return True, company
    return False, None


def _apply(
    match: Customer,
    row: Row,
    changes: dict[str, Any],
    company: tuple[bool, Customer | None],
    actor: Identity,
    phone_region: str | None,
) -> None:
    """A row's changes to a customer that exists (stored, or created by an earlier row)."""
    if not can_see(actor, match):
        # Only reached when another's customer holds the row's external id (unique): say so
        # without naming that customer.
        raise Conflict(
            "externalId: already taken by a customer you may not change", field="externalId"
        )
    if "ownerId" in changes and changes["ownerId"] != match.owner_id:
        _check_owner_assignment(actor, changes["ownerId"])
    if "team" in changes and changes["team"] != match.team and not actor.is_admin:
        raise Forbidden("only an admin may move a customer to another team")
    match.update(
        changes,
        change_company=company[0],
        company=company[1],
        lifecycle_reason="import",
        actor_id=actor.user_id,
        actor_name=actor.name,
        phone_region=phone_region,
        action="IMPORT",
    )


async def _import_chunk(
    rows: list[Row],
    dry_run: bool,
    actor: Identity,
    repository: CustomerRepository,
    report: ImportReport,
    phone_region: str | None,
) -> None:
    parsed: list[tuple[Row, dict[str, Any], str | None]] = []
    for row in rows:
        try:
            parsed.append((row, parse_row(row.values), _email_of(row)))
        except (CrmError, RuleViolation) as exc:
            report.fail(row.line, exc)
    ids = [r.values[c] for r, _, _ in parsed for c in ("id", "companyId") if c in r.values]
    external_ids = [
        r.values[c]
        for r, _, _ in parsed
        for c in ("externalId", "companyExternalId")
        if c in r.values
    ]
    # E-mails match only rows without an external id: one lookup less per chunk.
    emails = [email for row, _, email in parsed if email and "externalId" not in row.values]
    # Only the customers the caller may see can match a row: a row naming another's customer
    # (by id, external id or e-mail) is answered exactly as one naming nobody.
    found = await repository.find_for_import(ids, external_ids, emails)
    chunk = _Chunk([c for c in found if can_see(actor, c)])
    for row, changes, email in parsed:
        try:
            match = None
            if "id" in row.values:
                match = chunk.by_id.get(row.values["id"])
            if match is None and "externalId" in row.values:
                match = chunk.by_external.get(row.values["externalId"])
            if match is None and "externalId" not in row.values and email:
                match = chunk.by_email.get(email)
            original = dict(changes)
            company = await _company(changes, chunk, repository, actor)
            if match is None:
                customer = _create(row, changes, actor, phone_region, company[1])
                chunk.fresh[customer.id] = customer
                chunk.rows_of[customer.id] = [(row, original)]
                report.created += 1
            else:
                customer = match
                version = match.version
                _apply(match, row, changes, company, actor, phone_region)
                if match.version == version:
                    report.unchanged += 1
                elif match.id in chunk.fresh:  # a later row of the file refined a new one
                    chunk.rows_of[match.id].append((row, original))
                    report.updated += 1
                else:
                    chunk.changed.setdefault(match.id, (match, version, row.line))
                    report.updated += 1
            chunk.remember(customer)
        except (CrmError, RuleViolation) as exc:
            report.fail(row.line, exc)
    if dry_run:
        return
    # Companies first: a contact of this chunk may point to one, and one refused (another
    # import stored its external id first) is replaced by the stored one before the contacts
    # are written.
    fresh = list(chunk.fresh.values())
    companies = [c for c in fresh if c.kind is CustomerKind.COMPANY]
    others = [c for c in fresh if c.kind is not CustomerKind.COMPANY]
    refused = await repository.add_many(companies) if companies else []
    replaced = await _update_stored(refused, chunk, actor, repository, report, phone_region)
    for contact in others:
        if contact.company_id in replaced:
            _relink(contact, contact.company_id, replaced[contact.company_id])
    refused = (await repository.add_many(others) or []) if others else []
    await _update_stored(refused, chunk, actor, repository, report, phone_region)
    for customer, version, line in chunk.changed.values():
        try:
            await repository.save(customer, version)
        except (CrmError, RuleViolation) as exc:
            report.updated -= 1
            report.fail(line, exc)


async def _update_stored(
    refused: list[Customer],
    chunk: _Chunk,
    actor: Identity,
    repository: CustomerRepository,
    report: ImportReport,
    phone_region: str | None,
) -> dict[str, str]:
    """New customers refused because another writer (a concurrent import) stored their
    external id first: their rows update the stored customer instead. Returns the refused
    ids mapped to the stored ones."""
    if not refused:
        return {}
    externals = [c.external_id for c in refused if c.external_id]
    stored = {c.external_id: c for c in await repository.find_for_import([], externals, [])}
    replaced: dict[str, str] = {}
    for customer in refused:
        report.created -= 1
        rows = chunk.rows_of.get(customer.id, [])
        match = stored.get(customer.external_id)
        if match is None:  # stored, then removed (merged) meanwhile: cannot happen quietly
            for row, _ in rows:
                report.fail(row.line, Conflict("externalId: stored and removed meanwhile"))
            continue
        replaced[customer.id] = match.id
        chunk.by_external[customer.external_id or ""] = match
        version = match.version
        try:
            for row, original in rows:
                changes = dict(original)
                company = await _company(changes, chunk, repository, actor)
                _apply(match, row, changes, company, actor, phone_region)
            if match.version == version:
                report.unchanged += 1
                continue
            await repository.save(match, version)
            report.updated += 1
        except (CrmError, RuleViolation) as exc:
            report.fail(rows[-1][0].line if rows else 0, exc)
    return replaced


def _relink(contact: Customer, old_company: str, new_company: str) -> None:
    """A new contact of a company that another import stored first: it joins that one."""
    contact.company_id = new_company
    contact.audit[:] = [
        replace(
            entry,
            changes=tuple(
                replace(change, after=new_company)
                if change.field == "companyId" and change.after == old_company
                else change
                for change in entry.changes
            ),
        )
        for entry in contact.audit
    ]


def _create(
    row: Row,
    changes: dict[str, Any],
    actor: Identity,
    phone_region: str | None,
    company: Customer | None = None,
) -> Customer:
    owner_id = normalise_id(changes.get("ownerId"), "ownerId") or actor.user_id
    _check_owner_assignment(actor, owner_id)
    team = _team_for(actor, normalise_id(changes.get("team"), "team"))
    kind_raw = (row.values.get("kind") or "PERSON").strip().upper()
    if kind_raw not in CustomerKind.__members__:
        raise BadUserInput(f"kind: {kind_raw!r} is not PERSON or COMPANY", field="kind")
    source = changes.get("source")
    address = changes.get("address")
    return Customer.create(
        kind=CustomerKind(kind_raw),
        name=changes.get("name"),
        owner_id=owner_id,
        email=changes.get("email"),
        emails=changes.get("emails"),
        phone=changes.get("phone"),
        phones=changes.get("phones"),
        company=company,
        source=LeadSource(**source) if source else None,
        lifecycle=LifecycleStage(changes.get("lifecycle") or "LEAD"),
        tags=changes.get("tags"),
        attributes=changes.get("attributes"),
        address=Address(**address) if address else None,
        external_id=changes.get("externalId"),
        team=team,
        actor_id=actor.user_id,
        actor_name=actor.name,
        phone_region=phone_region,
        action="IMPORT",
    )


def check_graphql_size(text: str, max_chars: int) -> None:
    """The GraphQL import holds the whole file as one string: refuse it beyond the limit
    (counted in characters, without encoding a copy) and point to the streaming endpoint."""
    if len(text) > max_chars:
        raise BadUserInput(
            f"csv: {len(text)} characters, more than importCustomers accepts ({max_chars}); "
            f"send the file as the body of {STREAMING_ENDPOINT} (streamed, any size)",
            field="csv",
            maxChars=max_chars,
            endpoint=STREAMING_ENDPOINT,
        )


def split_lines(text: str) -> Iterator[str]:
    """Lines of a string, lazily (no list of every line), ends kept for the csv module."""
    start = 0
    length = len(text)
    if text.startswith("\ufeff"):
        start = 1
    while start < length:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


# A cell starting with one of these is a formula to Excel and LibreOffice (OWASP "CSV
# injection"); the export writes it after an apostrophe, which both show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def neutralise_cell(value: str) -> str:
    """The cell as exported: a formula start (or an apostrophe, so that the mark is never
    ambiguous) gets the text mark in front; ``restore_cell`` undoes it exactly."""
    if value.startswith((*FORMULA_STARTS, TEXT_MARK)):
        return TEXT_MARK + value
    return value


def restore_cell(cell: str) -> str:
    """The value of an imported cell: the text mark the export put in front is removed, so
    re-importing an export gives back the original value."""
    if (
        cell.startswith(TEXT_MARK)
        and cell[1:2]
        and cell[1:].startswith((*FORMULA_STARTS, TEXT_MARK))
    ):
        return cell[1:]
    return cell


def export_row(customer: Customer) -> list[str]:
    return [neutralise_cell(cell) for cell in _export_values(customer)]


def _export_values(customer: Customer) -> list[str]:
    source = customer.source or LeadSource()
    address = customer.address or Address()
    return [
        customer.id,
        customer.external_id or "",
        customer.kind.value,
        customer.name,
        customer.email or "",
        LIST_SEPARATOR.join(customer.emails),
        customer.phone or "",
        LIST_SEPARATOR.join(customer.phones),
        customer.company_id or "",
        address.street or "",
        address.city or "",
        address.postal_code or "",
        address.region or "",
        address.country or "",
        customer.lifecycle.value,
        customer.owner_id,
        customer.team or "",
        LIST_SEPARATOR.join(customer.tags),
        source.channel or "",
        source.campaign or "",
        source.medium or "",
        source.referrer or "",
        json.dumps(customer.attributes, ensure_ascii=False) if customer.attributes else "",
        customer.created_at.isoformat(),
        customer.updated_at.isoformat(),
    ]


class _Line:
    """A file-like sink for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.value = ""

    def write(self, text: str) -> int:
        self.value += text
        return len(text)


async def export_csv(
    query: CustomerQuery, actor: Identity, repository: CustomerRepository
) -> AsyncIterator[str]:
    """The header, then one CSV line per visible customer, streamed in id order."""
    from dataclasses import replace

    if access.reach(actor.roles, Kind.CUSTOMER) is Reach.NONE:
        raise Forbidden("exporting customers needs the role rep, manager or admin")
    query = replace(query, scope=scope_of(actor))
    sink = _Line()
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield sink.value
    buffer: list[str] = []
    async for customer in repository.iterate(query):
        sink.value = ""
        writer.writerow(export_row(customer))
        buffer.append(sink.value)
        if len(buffer) >= 200:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)
