"""The CSV reader of the import, with an in-memory repository: header mapping, BOM, line
numbers (also after quoted line breaks), bad rows next to good ones, dry run, upserts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crm_common.errors import BadUserInput
from crm_common.identity import Identity
from customers.domain.model import Customer
from customers.service_layer import importing

REP = Identity(user_id="rep-1", name="Rep", roles=frozenset({"rep"}), team="t")


class Repo:
    def __init__(self) -> None:
        self.rows: dict[str, Customer] = {}
        self.writes = 0

    async def find_for_import(
        self, ids: Sequence[str], external_ids: Sequence[str], emails: Sequence[str]
    ) -> list[Customer]:
        return [
            c
            for c in self.rows.values()
            if c.id in ids or c.external_id in external_ids or set(c.emails) & set(emails)
        ]

    async def resolve_many(self, ids: Sequence[str]) -> dict[str, Customer]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def add_many(self, customers: Sequence[Customer]) -> None:
        self.writes += 1
        for customer in customers:
            customer.events.clear()
            self.rows[customer.id] = customer

    async def save(self, customer: Customer, expected_version: int) -> None:
        self.writes += 1
        self.rows[customer.id] = customer


async def run(text: str, repo: Repo, dry_run: bool = False) -> importing.ImportReport:
    return await importing.import_customers(importing.split_lines(text), dry_run, REP, repo)  # type: ignore[arg-type]


async def test_header_aliases_bom_and_line_numbers_after_quoted_newlines() -> None:
    repo = Repo()
    text = (
        "\ufeffExternal-ID,Full Name,E-Mail,Stage,Attributes,Whatever\r\n"
        'a1,Multi,m@example.com,prospect,"{\n""k"": 1\n}",zzz\r\n'
        "a2,Bad,not-mail,LEAD,,\r\n"
        "\r\n"
        "a3,Good,g@example.com,LEAD,,\r\n"
    )
    report = await run(text, repo)
    assert (report.rows, report.created, report.failed) == (3, 2, 1)
    assert report.ignored_columns == ["Whatever"]
    [error] = report.errors
    assert (error.line, error.field) == (5, "email")  # the quoted field spans lines 2-4
    stored = {c.external_id: c for c in repo.rows.values()}
    assert stored["a1"].attributes == {"k": 1}
    assert stored["a1"].lifecycle.value == "PROSPECT"
    assert stored["a3"].emails == ["g@example.com"]


async def test_dry_run_writes_nothing_and_reimport_changes_nothing() -> None:
    repo = Repo()
    text = "externalId,name,tags\nx1,One,a;b\nx2,Two,\n"
    dry = await run(text, repo, dry_run=True)
    assert (dry.created, repo.writes, len(repo.rows)) == (2, 0, 0)
    await run(text, repo)
    again = await run(text, repo)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = await run(text.replace("One", "Uno"), repo)
    assert (changed.updated, changed.unchanged) == (1, 1)


async def test_a_file_without_a_name_column_is_refused() -> None:
    with pytest.raises(BadUserInput, match="name column"):
        await run("email\nx@example.com\n", Repo())
    with pytest.raises(BadUserInput, match="header"):
        await run("", Repo())


async def test_a_rep_cannot_import_for_another_owner() -> None:
    report = await run("name,ownerId\nA,someone-else\n", Repo())
    assert report.failed == 1
    assert "manager" in report.errors[0].message
