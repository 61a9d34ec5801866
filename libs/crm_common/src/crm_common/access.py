"""Who may see and change what: the one visibility rule of the suite (docs/CONVENTIONS.md).

Plain rules over plain values, used by all three services: the service layers ask, the
adapters turn a ``Scope`` into a query.

The rule is a table: for each role and each kind of record, how far the role reaches
(``Reach``). A caller with several roles reaches as far as the widest of them.

- a ``rep`` sees and changes the records they own;
- a ``manager`` those of their team, and their own;
- an ``admin`` everything;
- a ``service`` token (reporting tools) reads every deal (reports, live stage changes) and no
  customer, and changes nothing. That is the one place where the kinds differ, named in the
  table below rather than in each service.

A record's owner and team are the ones it carries (a deal's team is the pipeline's current team
of the deal; analytics learns it from the events).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final, Protocol


class Kind(Enum):
    """The kinds of record the rule speaks of."""

    CUSTOMER = "customer"  # the customer archive (customers service; its tasks and timeline)
    DEAL = "deal"  # an opportunity (pipeline), its report figures and stage changes (analytics)


class Reach(IntEnum):
    """How far a role reaches, narrowest first."""

    NONE = 0
    OWN = 1  # the records the caller owns
    TEAM = 2  # the records of the caller's team, and their own
    ALL = 3


ROLES: Final = ("rep", "manager", "admin", "service")

#: Who may read what.
READ: Final[dict[str, dict[Kind, Reach]]] = {
    "rep": {Kind.CUSTOMER: Reach.OWN, Kind.DEAL: Reach.OWN},
    "manager": {Kind.CUSTOMER: Reach.TEAM, Kind.DEAL: Reach.TEAM},
    "admin": {Kind.CUSTOMER: Reach.ALL, Kind.DEAL: Reach.ALL},
    # Reporting tools read every deal and no customer archive.
    "service": {Kind.CUSTOMER: Reach.NONE, Kind.DEAL: Reach.ALL},
}

#: Who may change what (create, update, move, assign, close).
CHANGE: Final[dict[str, dict[Kind, Reach]]] = {
    "rep": {Kind.CUSTOMER: Reach.OWN, Kind.DEAL: Reach.OWN},
    "manager": {Kind.CUSTOMER: Reach.TEAM, Kind.DEAL: Reach.TEAM},
    "admin": {Kind.CUSTOMER: Reach.ALL, Kind.DEAL: Reach.ALL},
    "service": {Kind.CUSTOMER: Reach.NONE, Kind.DEAL: Reach.NONE},
}


class Caller(Protocol):
    """The caller as the rule sees it (``crm_common.identity.Identity`` and ``Viewer`` fit)."""

    @property
    def user_id(self) -> str: ...
    @property
    def roles(self) -> frozenset[str]: ...
    @property
    def team(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """A caller of plain values, for layers that do not hold an ``Identity``."""

    user_id: str
    roles: frozenset[str]
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """The records a viewer may read: all, or those owned by ``owner_id`` or of ``team``
    (either may be None: no match through it)."""

    all: bool = False
    owner_id: str | None = None
    team: str | None = None

    @property
    def nothing(self) -> bool:
        return not self.all and self.owner_id is None and self.team is None

    def admits(self, owner_id: str | None, team: str | None) -> bool:
        return (
            self.all
            or (self.owner_id is not None and owner_id == self.owner_id)
            or (self.team is not None and team == self.team)
        )


ALL: Final = Scope(all=True)
NOTHING: Final = Scope()


def reach(roles: Iterable[str], kind: Kind, table: dict[str, dict[Kind, Reach]] = READ) -> Reach:
    """The widest reach of the roles over ``kind`` in ``table`` (unknown roles reach nothing)."""
    return max((table[role][kind] for role in roles if role in table), default=Reach.NONE)


def _scope(viewer: Caller, level: Reach) -> Scope:
    if level is Reach.ALL:
        return ALL
    if level is Reach.TEAM:
        return Scope(owner_id=viewer.user_id, team=viewer.team or None)
    if level is Reach.OWN:
        return Scope(owner_id=viewer.user_id)
    return NOTHING


def read_scope(viewer: Caller, kind: Kind) -> Scope:
    """The records of ``kind`` that ``viewer`` may read."""
    return _scope(viewer, reach(viewer.roles, kind, READ))


def change_scope(viewer: Caller, kind: Kind) -> Scope:
    """The records of ``kind`` that ``viewer`` may change."""
    return _scope(viewer, reach(viewer.roles, kind, CHANGE))


def can_read(viewer: Caller, kind: Kind, owner_id: str | None, team: str | None) -> bool:
    return read_scope(viewer, kind).admits(owner_id, team)


def can_change(viewer: Caller, kind: Kind, owner_id: str | None, team: str | None) -> bool:
    return change_scope(viewer, kind).admits(owner_id, team)


def may_change_any(viewer: Caller, kind: Kind) -> bool:
    """Whether ``viewer`` may change any record of ``kind`` at all (a writer's role)."""
    return reach(viewer.roles, kind, CHANGE) > Reach.NONE


def beyond_own(viewer: Caller, kind: Kind, table: dict[str, dict[Kind, Reach]] = READ) -> bool:
    """Whether ``viewer`` reaches records of ``kind`` owned by others (in ``table``: READ, or
    CHANGE, e.g. to give a record to another owner)."""
    return reach(viewer.roles, kind, table) > Reach.OWN


#: Who may read the audit trail across the suite (``auditLog``, ``Opportunity.audit``): admins
#: every entry, managers their team's (the team the changed record had then); nobody else.
AUDIT: Final[dict[str, Reach]] = {"rep": Reach.NONE, "manager": Reach.TEAM, "admin": Reach.ALL}


def audit_scope(viewer: Caller) -> Scope:
    """The audit entries ``viewer`` may read: by the changed record's team, never by owner (a
    manager reads their team's changes, not every change of the deals they own elsewhere)."""
    level = max((AUDIT[role] for role in viewer.roles if role in AUDIT), default=Reach.NONE)
    if level is Reach.ALL:
        return ALL
    if level is Reach.TEAM and viewer.team:
        return Scope(team=viewer.team)
    return NOTHING


def is_admin(viewer: Caller) -> bool:
    """Administration (exchange rates, webhooks) is for admins only."""
    return "admin" in viewer.roles
