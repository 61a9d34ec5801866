"""One opportunity as analytics sees it: the fold of its events, applied in ``sequence`` order.

``DealState`` is the per-opportunity projection. Events are applied strictly in sequence order:

- ``sequence == last_sequence + 1``: applied at once, then any held successors are applied;
- ``sequence <= last_sequence``: already applied (a duplicate or a late copy): ignored;
- ``sequence > last_sequence + 1`` (a gap: an earlier event is missing or late): the event is
  *held* (its sequence goes to ``held``; the event itself is in the event store) and applied as
  soon as the gap fills. The first event of an opportunity is expected with sequence 1.

Timeout policy: a gap that stays open longer than the worker's gap timeout
(``ANALYTICS_GAP_TIMEOUT_SECONDS``) is closed by applying the held events in sequence order,
skipping the missing ones (``gaps_skipped`` counts them). A missing event that arrives after
its gap was skipped is folded in: the deal is folded again from its stored events
(``services.late_event_refold``), so it counts in every report without waiting for
``analytics-rebuild``. Rebuilt = live once every late event has arrived.

What a state keeps: the latest fields, every stay in a stage (``stays``: entered, left, owner
at the moment it left, the amount during the stay), every stage transition (``moves``, with the
owner at that moment) and, per OPEN stage, the funnel *credit*: whether the deal passed the
stage (reached a later OPEN stage or a WON stage; a skipped stage counts as passed) and the
owner credited with it (the owner at the first transition that passed it; while the deal has
not passed it, the owner at its latest exit, or its current owner while it is still there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from analytics.domain.model import DealStatus, OpportunityChange, Stage, StageKind


class Verdict(StrEnum):
    APPLY = "APPLY"
    HOLD = "HOLD"
    STALE = "STALE"


@dataclass(slots=True)
class Stay:
    """A stay of the deal in one stage, from ``entered_at`` to ``left_at`` (None: still there)."""

    stage_id: str
    stage_name: str
    order: int
    kind: StageKind
    entered_at: datetime
    left_at: datetime | None
    #: The owner when the deal left the stage (its current owner while it is there).
    owner_id: str | None
    amount: Decimal | None
    currency: str | None
    #: The stage the deal went to when it left (None while it is there).
    next_stage_id: str | None = None
    next_kind: StageKind | None = None

    def days(self, until: datetime | None = None) -> float:
        end = self.left_at or until
        if end is None:
            return 0.0
        return max(0.0, (end - self.entered_at).total_seconds() / 86400.0)


@dataclass(frozen=True, slots=True)
class Move:
    """A stage transition (creation included: ``from_*`` are None then)."""

    at: datetime
    owner_id: str | None
    from_stage_id: str | None
    from_order: int | None
    from_kind: StageKind | None
    to_stage_id: str
    to_order: int
    to_kind: StageKind


@dataclass(slots=True)
class Credit:
    owner_id: str | None
    advanced: bool


@dataclass(slots=True)
class DealState:
    opportunity_id: str
    last_sequence: int = 0
    held: list[int] = field(default_factory=list)
    held_since: datetime | None = None
    gaps_skipped: int = 0
    pipeline_id: str | None = None
    owner_id: str | None = None
    customer_id: str | None = None
    title: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    status: DealStatus | None = None
    stage: Stage | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    expected_close_date: str | None = None
    lost_reason: str | None = None
    team: str | None = None
    source_channel: str | None = None
    source_campaign: str | None = None
    source_medium: str | None = None
    max_open_order: int | None = None
    reached_won: bool = False
    stays: list[Stay] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    credits: dict[str, Credit] = field(default_factory=dict)

    # -- ordering -------------------------------------------------------------------------

    def offer(self, sequence: int) -> Verdict:
        if sequence <= self.last_sequence:
            return Verdict.STALE
        if sequence == self.last_sequence + 1:
            return Verdict.APPLY
        return Verdict.HOLD

    def hold(self, sequence: int, now: datetime) -> bool:
        """Remember a held sequence; ``False`` if it was already held."""
        if sequence in self.held:
            return False
        self.held.append(sequence)
        self.held.sort()
        if self.held_since is None:
            self.held_since = now
        return True

    def next_held(self) -> int | None:
        """The held sequence that is now next in line, if any."""
        if self.held and self.held[0] == self.last_sequence + 1:
            return self.held[0]
        return None

    def unhold(self, sequence: int) -> None:
        if sequence in self.held:
            self.held.remove(sequence)
        # Anything at or below what is applied can never be applied any more.
        self.held = [s for s in self.held if s > self.last_sequence]
        if not self.held:
            self.held_since = None

    def skip_gap(self) -> int | None:
        """Timeout policy: give up waiting for the missing events before the first held one.

        Returns the sequence that becomes next in line (now applicable), or None.
        """
        if not self.held:
            return None
        first = self.held[0]
        if first > self.last_sequence + 1:
            self.gaps_skipped += first - self.last_sequence - 1
            self.last_sequence = first - 1
        return first

    # -- applying --------------------------------------------------------------------------

    def apply(self, change: OpportunityChange) -> None:
        """Fold ``change`` in (the caller guarantees sequence order)."""
        at = change.changed_at
        self.last_sequence = max(self.last_sequence, change.sequence)
        if self.created_at is None or change.event_type.endswith(".created"):
            self.created_at = at if self.created_at is None else min(self.created_at, at)
        self.updated_at = at if self.updated_at is None else max(self.updated_at, at)
        owner_changed = change.owner_id is not None and change.owner_id != self.owner_id
        for name in ("pipeline_id", "owner_id", "customer_id", "title"):
            value = getattr(change, name)
            if value is not None:
                setattr(self, name, value)
        if change.amount is not None:
            self.amount = change.amount.amount
            self.currency = change.amount.currency
        if change.expected_close_date is not None:
            self.expected_close_date = change.expected_close_date or None
        if change.lost_reason is not None:
            self.lost_reason = change.lost_reason
        if change.team is not None:
            self.team = change.team or None
        if change.source is not None:
            self.source_channel = change.source.channel
            self.source_campaign = change.source.campaign
            self.source_medium = change.source.medium
        to = change.to_stage
        if to is not None and (self.stage is None or to.id != self.stage.id):
            self._move(self.stage, to, at, change.stages)
        elif to is not None:
            self.stage = to
        if self.stays and self.stays[-1].left_at is None:
            current = self.stays[-1]
            current.amount, current.currency = self.amount, self.currency
            current.owner_id = self.owner_id
        if owner_changed and self.stage is not None:
            credit = self.credits.get(self.stage.id)
            if credit is not None and not credit.advanced:
                credit.owner_id = self.owner_id
        if change.status is not None:
            self.status = change.status
        elif to is not None:
            self.status = DealStatus(to.kind.value)
        if self.status in (DealStatus.WON, DealStatus.LOST):
            if self.closed_at is None:
                self.closed_at = at
                self.closed_by = self.owner_id
        else:
            self.closed_at = None
            self.closed_by = None
        if self.status is DealStatus.WON:
            self.reached_won = True

    def _move(
        self, source: Stage | None, to: Stage, at: datetime, stages: Iterable[Stage] | None
    ) -> None:
        owner = self.owner_id
        if self.stays and self.stays[-1].left_at is None:
            last = self.stays[-1]
            last.left_at = at
            last.owner_id = owner
            last.next_stage_id = to.id
            last.next_kind = to.kind
        self.moves.append(
            Move(
                at=at,
                owner_id=owner,
                from_stage_id=source.id if source else None,
                from_order=source.order if source else None,
                from_kind=source.kind if source else None,
                to_stage_id=to.id,
                to_order=to.order,
                to_kind=to.kind,
            )
        )
        self.stays.append(
            Stay(
                stage_id=to.id,
                stage_name=to.name,
                order=to.order,
                kind=to.kind,
                entered_at=at,
                left_at=None,
                owner_id=owner,
                amount=self.amount,
                currency=self.currency,
            )
        )
        self.stage = to
        if to.kind is StageKind.OPEN:
            self.max_open_order = (
                to.order if self.max_open_order is None else max(self.max_open_order, to.order)
            )
        if to.kind is StageKind.WON:
            self.reached_won = True
        opens = {s.id: s for s in (stages or ()) if s.kind is StageKind.OPEN}
        for stage in (source, to):
            if stage is not None and stage.kind is StageKind.OPEN:
                opens.setdefault(stage.id, stage)
        for stage in passed_stages(source, to, opens.values()):
            credit = self.credits.get(stage.id)
            if credit is None or not credit.advanced:
                self.credits[stage.id] = Credit(owner, advanced=True)
        if source is not None and source.kind is StageKind.OPEN:
            credit = self.credits.get(source.id)
            if credit is not None and not credit.advanced:
                credit.owner_id = owner
        if to.kind is StageKind.OPEN:
            credit = self.credits.get(to.id)
            if credit is None:
                self.credits[to.id] = Credit(owner, advanced=False)
            elif not credit.advanced:
                credit.owner_id = owner

    # -- read helpers ----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status is DealStatus.OPEN

    def stage_at(self, moment: datetime) -> Stay | None:
        """The stay covering ``moment`` (time travel), None if the deal did not exist yet."""
        found: Stay | None = None
        for stay in self.stays:
            if stay.entered_at <= moment and (stay.left_at is None or stay.left_at > moment):
                found = stay
        return found


def passed_stages(source: Stage | None, to: Stage, opens: Iterable[Stage]) -> list[Stage]:
    """The OPEN stages a transition from ``source`` to ``to`` passes (enters and advances).

    Forward to a later OPEN stage: every OPEN stage from the source's order (included) up to the
    target's (excluded); into a WON stage: every OPEN stage from the source's order on (all of
    them for a creation or a reopened deal). A creation (or a reopening) into an OPEN stage
    passes the stages before it. Backward moves and moves into LOST pass nothing.
    """
    open_source = source is not None and source.kind is StageKind.OPEN
    low: float = source.order if source is not None and open_source else float("-inf")
    if to.kind is StageKind.WON:
        return [s for s in opens if s.order >= low]
    if to.kind is StageKind.OPEN and to.order > low:
        return [s for s in opens if low <= s.order < to.order]
    return []
