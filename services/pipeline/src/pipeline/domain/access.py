"""Who may see and change which opportunity: the suite's rule (``crm_common.access``) over
deals, and the pipeline's own rules on top of it (who assigns a deal to whom, who changes
pipelines). Plain rules over plain values: the service layer asks, adapters turn ``Scope``
into a query.
"""

from __future__ import annotations

from crm_common import access
from crm_common.access import ALL, Caller, Kind, Reach, Scope, Viewer
from pipeline.domain.errors import DomainError

__all__ = [
    "ALL",
    "AccessDenied",
    "Scope",
    "Viewer",
    "assignment",
    "can_change",
    "can_read",
    "can_see_customer",
]

#: Roles that change pipelines (their stages) rather than deals.
PIPELINE_ADMIN_ROLES = frozenset({"admin", "manager"})


class AccessDenied(DomainError):
    """The caller may not do this (FORBIDDEN), whatever the input."""


def read_scope(viewer: Caller) -> Scope:
    return access.read_scope(viewer, Kind.DEAL)


def can_read(viewer: Caller, owner_id: str, team: str | None) -> bool:
    return access.can_read(viewer, Kind.DEAL, owner_id, team)


def can_change(viewer: Caller, owner_id: str, team: str | None) -> bool:
    return access.can_change(viewer, Kind.DEAL, owner_id, team)


def can_see_customer(viewer: Caller, owner_id: str | None, team: str | None) -> bool:
    """Whether ``viewer`` may see a customer of this owner and team: the archive's own rule,
    which decides who may open, move or close deals on it."""
    return access.can_read(viewer, Kind.CUSTOMER, owner_id, team)


def require_change(viewer: Caller, owner_id: str, team: str | None, what: str) -> None:
    if not can_change(viewer, owner_id, team):
        raise AccessDenied(f"you may not change {what}")


def assignment(
    viewer: Caller, owner_id: str, team: str | None, *, explicit_team: str | None
) -> str | None:
    """The team an opportunity gets when ``viewer`` assigns it to ``owner_id``; raises
    ``AccessDenied`` for an assignment the viewer may not make.

    A rep assigns only to themselves; a manager to anyone, the deal staying in their team; an
    admin to anyone, with an explicit team or else their own team claim. ``team`` is the
    deal's current team (None for a new deal)."""
    reach = access.reach(viewer.roles, Kind.DEAL, access.CHANGE)
    if reach is Reach.ALL:
        return explicit_team if explicit_team is not None else (team or viewer.team)
    if explicit_team is not None and explicit_team != viewer.team:
        raise AccessDenied("only an admin assigns a deal to another team")
    if reach is Reach.TEAM:
        return viewer.team
    if reach is Reach.OWN:
        if owner_id != viewer.user_id:
            raise AccessDenied("a rep assigns deals only to themselves")
        return viewer.team
    raise AccessDenied("this token may not change deals")


def require_pipeline_admin(viewer: Caller) -> None:
    if not viewer.roles & PIPELINE_ADMIN_ROLES:
        raise AccessDenied("only a manager or an admin changes pipelines")


def require_catalogue_editor(viewer: Caller) -> None:
    """The product catalogue is shared by everyone who sells; managers and admins keep it."""
    if not viewer.roles & PIPELINE_ADMIN_ROLES:
        raise AccessDenied("only a manager or an admin changes the product catalogue")
