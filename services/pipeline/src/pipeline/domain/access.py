"""Who may see and change which opportunity (docs/CONVENTIONS.md, Visibility).

A ``rep`` sees and changes the deals they own; a ``manager`` those of their team (and their
own); an ``admin`` everything; a ``service`` token (reporting tools) reads everything and
changes nothing. Plain rules over plain values: the service layer asks, adapters turn
``Scope`` into a query.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain.errors import DomainError


class AccessDenied(DomainError):
    """The caller may not do this (FORBIDDEN), whatever the input."""


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: str
    roles: frozenset[str]
    team: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_manager(self) -> bool:
        return "manager" in self.roles

    @property
    def is_rep(self) -> bool:
        return "rep" in self.roles

    @property
    def is_service(self) -> bool:
        return "service" in self.roles


@dataclass(frozen=True, slots=True)
class Scope:
    """The opportunities a viewer may read: all, or those owned by ``owner_id`` or of
    ``team`` (either may be None: no match through it)."""

    all: bool
    owner_id: str | None = None
    team: str | None = None

    @property
    def nothing(self) -> bool:
        return not self.all and self.owner_id is None and self.team is None


ALL = Scope(all=True)


def read_scope(viewer: Viewer) -> Scope:
    if viewer.is_admin or viewer.is_service:
        return Scope(all=True)
    if viewer.is_manager:
        return Scope(all=False, owner_id=viewer.user_id, team=viewer.team)
    if viewer.is_rep:
        return Scope(all=False, owner_id=viewer.user_id)
    return Scope(all=False)


def can_read(viewer: Viewer, owner_id: str, team: str | None) -> bool:
    scope = read_scope(viewer)
    return (
        scope.all or owner_id == scope.owner_id or (scope.team is not None and team == scope.team)
    )


def can_change(viewer: Viewer, owner_id: str, team: str | None) -> bool:
    if viewer.is_admin:
        return True
    if viewer.is_manager and (owner_id == viewer.user_id or (viewer.team and team == viewer.team)):
        return True
    return viewer.is_rep and owner_id == viewer.user_id


def require_change(viewer: Viewer, owner_id: str, team: str | None, what: str) -> None:
    if not can_change(viewer, owner_id, team):
        raise AccessDenied(f"you may not change {what}")


def assignment(
    viewer: Viewer, owner_id: str, team: str | None, *, explicit_team: str | None
) -> str | None:
    """The team an opportunity gets when ``viewer`` assigns it to ``owner_id``; raises
    ``AccessDenied`` for an assignment the viewer may not make.

    A rep assigns only to themselves; a manager to anyone, the deal staying in their team; an
    admin to anyone, with an explicit team or else their own team claim. ``team`` is the
    deal's current team (None for a new deal)."""
    if viewer.is_admin:
        return explicit_team if explicit_team is not None else (team or viewer.team)
    if explicit_team is not None and explicit_team != viewer.team:
        raise AccessDenied("only an admin assigns a deal to another team")
    if viewer.is_manager:
        return viewer.team
    if viewer.is_rep:
        if owner_id != viewer.user_id:
            raise AccessDenied("a rep assigns deals only to themselves")
        return viewer.team
    raise AccessDenied("this token may not change deals")


def require_pipeline_admin(viewer: Viewer) -> None:
    if not (viewer.is_admin or viewer.is_manager):
        raise AccessDenied("only a manager or an admin changes pipelines")
