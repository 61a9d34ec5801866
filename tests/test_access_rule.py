"""The one visibility rule (``crm_common.access``): every role against every kind of record,
and the three services answering as the rule does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from analytics.domain.deal import DealState
from analytics.domain.model import DealStatus
from analytics.service_layer import services as analytics
from crm_common import access
from crm_common.access import Kind, Viewer
from crm_common.errors import Forbidden
from crm_common.identity import Identity
from customers.domain.model import Customer, CustomerKind, LifecycleStage
from customers.service_layer import services as customers
from pipeline.domain import access as pipeline

ME, TEAM = "me", "team-a"


@dataclass(frozen=True)
class Record:
    owner_id: str
    team: str | None


RECORDS = {
    "own": Record(ME, TEAM),
    "own, no team": Record(ME, None),
    "team-mate's": Record("mate", TEAM),
    "other team's": Record("stranger", "team-b"),
    "no team's": Record("stranger", None),
}
EVERY = frozenset(RECORDS)
OWN = frozenset({"own", "own, no team"})
TEAM_AND_OWN = OWN | {"team-mate's"}
NONE: frozenset[str] = frozenset()

# (roles, team claim) -> kind -> (records it may read, records it may change)
TABLE: dict[
    tuple[frozenset[str], str | None], dict[Kind, tuple[frozenset[str], frozenset[str]]]
] = {
    (frozenset({"rep"}), TEAM): {Kind.CUSTOMER: (OWN, OWN), Kind.DEAL: (OWN, OWN)},
    (frozenset({"manager"}), TEAM): {
        Kind.CUSTOMER: (TEAM_AND_OWN, TEAM_AND_OWN),
        Kind.DEAL: (TEAM_AND_OWN, TEAM_AND_OWN),
    },
    # A manager without a team claim: only their own records.
    (frozenset({"manager"}), None): {Kind.CUSTOMER: (OWN, OWN), Kind.DEAL: (OWN, OWN)},
    (frozenset({"admin"}), TEAM): {Kind.CUSTOMER: (EVERY, EVERY), Kind.DEAL: (EVERY, EVERY)},
    # Reporting tools: every deal, no customer, and they change nothing.
    (frozenset({"service"}), None): {Kind.CUSTOMER: (NONE, NONE), Kind.DEAL: (EVERY, NONE)},
    (frozenset(), TEAM): {Kind.CUSTOMER: (NONE, NONE), Kind.DEAL: (NONE, NONE)},
    (frozenset({"unknown-role"}), TEAM): {Kind.CUSTOMER: (NONE, NONE), Kind.DEAL: (NONE, NONE)},
    # Several roles reach as far as the widest.
    (frozenset({"rep", "manager"}), TEAM): {
        Kind.CUSTOMER: (TEAM_AND_OWN, TEAM_AND_OWN),
        Kind.DEAL: (TEAM_AND_OWN, TEAM_AND_OWN),
    },
    (frozenset({"rep", "service"}), TEAM): {Kind.CUSTOMER: (OWN, OWN), Kind.DEAL: (EVERY, OWN)},
}

CASES = [
    pytest.param(
        roles,
        team,
        kind,
        name,
        id=f"{'+'.join(sorted(roles)) or 'no role'}"
        f"{'' if team else ' (no team)'}-{kind.value}-{name}",
    )
    for (roles, team), kinds in TABLE.items()
    for kind in Kind
    for name in RECORDS
]


def test_the_table_covers_every_role_and_kind() -> None:
    covered = {role for roles, _ in TABLE for role in roles}
    assert set(access.ROLES) <= covered
    assert all(set(kinds) == set(Kind) for kinds in TABLE.values())


@pytest.mark.parametrize(("roles", "team", "kind", "name"), CASES)
def test_the_rule(roles: frozenset[str], team: str | None, kind: Kind, name: str) -> None:
    viewer = Viewer(ME, roles, team)
    record = RECORDS[name]
    readable, changeable = TABLE[(roles, team)][kind]
    assert access.can_read(viewer, kind, record.owner_id, record.team) is (name in readable)
    assert access.can_change(viewer, kind, record.owner_id, record.team) is (name in changeable)
    # The scope an adapter turns into a query admits the same records.
    scope = access.read_scope(viewer, kind)
    assert scope.admits(record.owner_id, record.team) is (name in readable)
    assert scope.nothing is (not readable)


def _customer(record: Record) -> Customer:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Customer(
        id="c1",
        kind=CustomerKind.PERSON,
        name="Ada",
        email=None,
        phone=None,
        company_id=None,
        source=None,
        lifecycle=LifecycleStage.LEAD,
        owner_id=record.owner_id,
        tags=[],
        attributes=None,
        version=1,
        created_at=now,
        updated_at=now,
        team=record.team,
    )


def _deal(record: Record) -> DealState:
    return DealState(
        "d1",
        pipeline_id="p1",
        status=DealStatus.OPEN,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        owner_id=record.owner_id,
        team=record.team,
    )


def _analytics_sees(identity: Identity, deal: DealState) -> bool:
    """What analytics' reports count: the owner filter a caller gets, then the team filter."""
    try:
        owner = analytics.owner_scope(identity, None)
    except Forbidden:
        return False
    visible = analytics.visibility(identity)
    return (owner is None or deal.owner_id == owner) and (visible is None or visible(deal))


@pytest.mark.parametrize(("roles", "team", "kind", "name"), CASES)
def test_every_service_answers_as_the_rule(
    roles: frozenset[str], team: str | None, kind: Kind, name: str
) -> None:
    identity = Identity(ME, "Me", roles, team)
    record = RECORDS[name]
    readable, changeable = TABLE[(roles, team)][kind]
    if kind is Kind.CUSTOMER:
        assert customers.can_see(identity, _customer(record)) is (name in readable)
        writer = True
        try:
            customers.require_writer(identity)
        except Forbidden:
            writer = False
        assert (writer and customers.can_see(identity, _customer(record))) is (name in changeable)
    else:
        assert pipeline.can_read(identity, record.owner_id, record.team) is (name in readable)
        assert pipeline.can_change(identity, record.owner_id, record.team) is (name in changeable)
        assert _analytics_sees(identity, _deal(record)) is (name in readable)


def test_scopes_the_adapters_query() -> None:
    assert access.read_scope(Viewer(ME, frozenset({"admin"})), Kind.CUSTOMER) == access.ALL
    assert access.read_scope(Viewer(ME, frozenset({"rep"}), TEAM), Kind.DEAL) == access.Scope(
        owner_id=ME
    )
    assert access.read_scope(Viewer(ME, frozenset({"manager"}), TEAM), Kind.DEAL) == access.Scope(
        owner_id=ME, team=TEAM
    )
    assert customers.scope_of(Identity(ME, "Me", frozenset({"admin"}))) is None
    assert customers.scope_of(Identity(ME, "Me", frozenset({"service"}))) == access.NOTHING
