"""Import rows that link a new contact to a company of the same file (``companyExternalId``,
``companyId``), with an in-memory repository; and the GraphQL size limit."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from test_customers_importing_unit import Repo, run

from crm_common.errors import BadUserInput
from customers.domain.model import Customer, CustomerKind
from customers.service_layer import importing


class RacingRepo(Repo):
    """As if another import stored some external ids between this one's lookup and insert."""

    def __init__(self, taken: dict[str, Customer]) -> None:
        super().__init__()
        self.taken = taken

    async def add_many(self, customers: Sequence[Customer]) -> list[Customer]:  # type: ignore[override]
        refused = [c for c in customers if c.external_id in self.taken]
        for stored in self.taken.values():
            self.rows[stored.id] = stored
        await super().add_many([c for c in customers if c not in refused])
        return refused


async def test_a_contact_links_to_a_company_created_earlier_in_the_same_chunk() -> None:
    repo = Repo()
    text = (
        "externalId,kind,name,companyExternalId\n"
        "co-1,COMPANY,Acme,\n"
        "p-1,PERSON,Wile,co-1\n"  # same chunk: the company is not written yet
        "p-2,PERSON,Road,co-404\n"
        "p-3,PERSON,Runner,p-1\n"  # a person is no company
    )
    report = await run(text, repo)
    assert (report.created, report.failed) == (2, 2)
    assert [(e.line, e.field) for e in report.errors] == [
        (4, "companyExternalId"),
        (5, "companyId"),
    ]
    by_external = {c.external_id: c for c in repo.rows.values()}
    assert by_external["p-1"].company_id == by_external["co-1"].id


async def test_a_contact_links_to_a_company_of_an_earlier_chunk_or_the_archive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importing, "CHUNK", 2)
    repo = Repo()
    await run("externalId,kind,name\nold-co,COMPANY,Old Co\n", repo)
    old_co = next(iter(repo.rows.values()))
    text = (
        "externalId,kind,name,companyExternalId,companyId\n"
        "co-1,COMPANY,Acme,,\n"
        "filler,PERSON,Filler,,\n"
        "p-1,PERSON,Wile,co-1,\n"  # the next chunk: the company is stored by now
        f"p-2,PERSON,Road,,{old_co.id}\n"  # by id, a new contact too
        "p-3,PERSON,Runner,old-co,\n"
    )
    report = await run(text, repo)
    assert (report.created, report.failed) == (5, 0), report.errors
    by_external = {c.external_id: c for c in repo.rows.values()}
    assert by_external["p-1"].company_id == by_external["co-1"].id
    assert by_external["p-2"].company_id == old_co.id
    assert by_external["p-3"].company_id == old_co.id
    # Re-importing changes nothing; a link can be changed by a later import.
    again = await run(text, repo)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


async def test_a_company_stored_meanwhile_by_another_import_is_updated_and_joined() -> None:
    stored = Customer.create(
        kind=CustomerKind.COMPANY, name="Acme", owner_id="rep-1", external_id="co-1"
    )
    repo = RacingRepo({"co-1": stored})
    report = await run(
        "externalId,kind,name,tags,companyExternalId\n"
        "co-1,COMPANY,Acme,vip,\n"
        "p-1,PERSON,Wile,,co-1\n",
        repo,
    )
    assert (report.created, report.updated, report.failed) == (1, 1, 0), report.errors
    companies = [c for c in repo.rows.values() if c.kind is CustomerKind.COMPANY]
    assert [c.id for c in companies] == [stored.id]  # stored once
    assert stored.tags == ["vip"]
    contact = next(c for c in repo.rows.values() if c.external_id == "p-1")
    assert contact.company_id == stored.id


def test_the_graphql_import_is_bounded_and_points_to_the_streaming_endpoint() -> None:
    importing.check_graphql_size("x" * 10, 10)
    with pytest.raises(BadUserInput) as refused:
        importing.check_graphql_size("x" * 11, 10)
    assert refused.value.details["field"] == "csv"
    assert "POST /import/customers.csv" in refused.value.message
