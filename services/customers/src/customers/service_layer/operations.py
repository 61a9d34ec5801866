"""Merges and ownership transfers: commands of several writes, made crash-safe without
transactions.

Each is recorded in the operation log first (intent and plan), then applied in steps that are
each safe to repeat, then marked DONE with its result. A crash between two steps leaves a
PENDING operation, which ``finish_unfinished`` completes (at start and by a periodic sweep).
Every event is written in the same single-document write as the fact it reports (the survivor
of a merge; the run record of a transfer), so it is published at least once, never lost.

Merge (id derived from the target and the sources, so asking again is the same operation):
plan (the sources, what moves) → the survivor absorbs the sources (one write: merged ids, every
detail, the sources' pending events, the ``customers.customer.merged`` event, the audit entry;
from here on the old ids resolve to the survivor) → timelines re-pointed → contacts re-pointed,
sources archived and removed → DONE (the result, returned again to whoever asks again).

Transfer (one id per run; the transfer id stays the one of its owners): plan (the customers
owned by ``from`` now) → each still owned by ``from`` is given to ``to`` (one write per
customer, with its audit entry) → the run is recorded with its event (one write, once per run)
→ DONE.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from crm_common.errors import (
    BadUserInput,
    Conflict,
    CrmError,
    Forbidden,
    NotFound,
    RuleViolation,
)
from crm_common.identity import Identity
from customers.domain.model import Customer, FieldChange
from customers.domain.values import normalise_id, utcnow
from customers.service_layer.ports import (
    CustomerRepository,
    InteractionRepository,
    Operation,
    OperationLog,
    TransferRepository,
)
from customers.service_layer.services import (
    contacts_by_company,
    may_assign,
    require_visible,
    require_writer,
)

log = logging.getLogger(__name__)

MERGE, TRANSFER = "MERGE", "TRANSFER"
# Steps recorded in the log; the crash tests stop a process right after them.
MERGE_ABSORBING = "merge-absorbing"
MERGE_ABSORBED = "merge-absorbed"
TRANSFER_APPLIED = "transfer-applied"

_ATTEMPTS = 5  # the survivor changed meanwhile: absorb again from what is stored


@dataclass
class MergeOutcome:
    survivor: Customer
    merged_ids: list[str]
    dry_run: bool
    changes: list[FieldChange]
    moved_interactions: int
    moved_contacts: int


@dataclass
class TransferOutcome:
    transfer_id: str
    moved_ids: list[str]
    customer_ids: list[str]
    runs: int


def merge_operation_id(target_id: str, source_ids: Sequence[str]) -> str:
    key = f"crm:merge:{target_id}:{','.join(sorted(set(source_ids)))}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def transfer_id_for(from_owner: str, to_owner: str, include: bool) -> str:
    """The same transfer asked twice has the same id (consumers de-duplicate on it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm:transfer:{from_owner}:{to_owner}:{include}"))


def _changes_document(changes: Sequence[FieldChange]) -> list[dict[str, Any]]:
    return [{"field": c.field, "from": c.before, "to": c.after} for c in changes]


def _changes_from(documents: Sequence[dict[str, Any]]) -> list[FieldChange]:
    return [FieldChange(d["field"], d["from"], d["to"]) for d in documents]


# --- merge ---------------------------------------------------------------------------------


async def merge_customers(
    target_id: str,
    source_ids: Sequence[str],
    dry_run: bool,
    actor: Identity,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    operations: OperationLog,
) -> MergeOutcome:
    """Merges the sources into the target (see the module). Asked again with the same ids,
    it returns the first answer (finishing the merge first if a crash interrupted it)."""
    require_writer(actor)
    sources_wanted = list(dict.fromkeys(str(s) for s in source_ids))
    if not sources_wanted:
        raise BadUserInput("sourceIds: name at least one customer to merge", field="sourceIds")
    if target_id in sources_wanted:
        raise BadUserInput("sourceIds: the target cannot be merged into itself", field="sourceIds")
    operation_id = merge_operation_id(target_id, sources_wanted)
    if not dry_run:
        known = await operations.get(operation_id)
        if known is not None and known.state != "FAILED":
            survivor = (await customers.resolve_many([target_id])).get(target_id)
            if survivor is None:
                raise NotFound(f"no customer has the id {target_id}", field="targetId")
            require_visible(actor, survivor)
            return await run_merge(known, customers, interactions, operations)
    target = await customers.get(target_id)
    if target is None:
        raise NotFound(f"no customer has the id {target_id}", field="targetId")
    require_visible(actor, target)
    found = {c.id: c for c in await customers.get_many(sources_wanted)}
    sources: list[Customer] = []
    finishing: list[Customer] = []  # merged into the target already, documents still there
    for source_id in sources_wanted:
        source = found.get(source_id)
        if source is None:
            if source_id in target.merged_ids:
                continue  # merged before: nothing left to do
            raise NotFound(f"sourceIds: no customer has the id {source_id}", field="sourceIds")
        require_visible(actor, source)
        if source.kind is not target.kind:
            raise BadUserInput(
                f"sourceIds: {source_id} is a {source.kind.value}, the target a "
                f"{target.kind.value}",
                field="sourceIds",
            )
        if source_id in target.merged_ids:
            finishing.append(source)
        else:
            sources.append(source)
    retiring = [s.id for s in sources + finishing]
    moved_interactions = await interactions.count_for(retiring)
    moved_contacts = sum(len(group) for group in await contacts_by_company(retiring, customers))
    if dry_run:
        preview = replace(target, events=[], audit=[])
        preview.tags, preview.emails, preview.phones = (
            list(target.tags),
            list(target.emails),
            list(target.phones),
        )
        preview.merged_ids = list(target.merged_ids)
        preview_changes = preview.absorb(sources, actor_id=actor.user_id, actor_name=actor.name)
        return MergeOutcome(
            preview, retiring, True, preview_changes, moved_interactions, moved_contacts
        )
    operation = await operations.begin(
        Operation(
            id=operation_id,
            kind=MERGE,
            plan={
                "targetId": target.id,
                "sourceIds": retiring,
                "actorId": actor.user_id,
                "actorName": actor.name,
                "movedInteractions": moved_interactions,
                "movedContacts": moved_contacts,
            },
        )
    )
    return await run_merge(operation, customers, interactions, operations)


async def run_merge(
    operation: Operation,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    operations: OperationLog,
) -> MergeOutcome:
    """Applies (or finishes) a recorded merge; every step is safe to repeat."""
    plan = operation.plan
    target_id, source_ids = str(plan["targetId"]), [str(i) for i in plan["sourceIds"]]
    if operation.state == "DONE" and operation.result is not None:
        survivor = (await customers.resolve_many([target_id])).get(target_id)
        if survivor is None:
            raise NotFound(f"no customer has the id {target_id}", field="targetId")
        return _merge_outcome(survivor, operation.result)
    progress = dict(operation.progress or {})
    target = await customers.get(target_id)
    for _ in range(_ATTEMPTS):
        if target is None:
            await operations.fail(operation.id, f"the target {target_id} no longer exists")
            raise NotFound(f"no customer has the id {target_id}", field="targetId")
        remaining = [i for i in source_ids if i not in target.merged_ids]
        if not remaining:
            break
        found = {c.id: c for c in await customers.get_many(remaining)}
        missing = [i for i in remaining if i not in found]
        if missing:  # merged elsewhere meanwhile: nothing of this plan may be applied
            await operations.fail(operation.id, f"sources gone before the merge: {missing}")
            raise Conflict(
                f"sourceIds: {', '.join(missing)} changed meanwhile; ask again",
                field="sourceIds",
            )
        sources = [found[i] for i in remaining]
        version = target.version
        pending = await customers.pending_outbox(remaining)
        changes = target.absorb(
            sources, actor_id=plan.get("actorId"), actor_name=plan.get("actorName")
        )
        # Before the write: on resumption the survivor is already written, and this is how
        # the result still shows what it changed.
        progress = {"changes": _changes_document(changes)}
        await operations.progress(operation.id, progress, MERGE_ABSORBING)
        try:
            await customers.save(target, version, carried_outbox=pending)
        except Conflict:
            target = await customers.get(target_id)
            continue
        await operations.progress(operation.id, progress, MERGE_ABSORBED)
        break
    else:
        raise Conflict(f"customer {target_id} kept changing during the merge; ask again")
    assert target is not None
    await interactions.repoint(source_ids, target.id)
    retired = await customers.get_many(source_ids)
    await customers.retire_merged(retired, target.id, utcnow())
    result = {
        "mergedIds": source_ids,
        "changes": progress.get("changes") or [],
        "movedInteractions": plan.get("movedInteractions", 0),
        "movedContacts": plan.get("movedContacts", 0),
    }
    await operations.finish(operation.id, result)
    return _merge_outcome(target, result)


def _merge_outcome(survivor: Customer, result: dict[str, Any]) -> MergeOutcome:
    return MergeOutcome(
        survivor,
        [str(i) for i in result["mergedIds"]],
        False,
        _changes_from(result["changes"]),
        int(result["movedInteractions"]),
        int(result["movedContacts"]),
    )


# --- staff turnover ------------------------------------------------------------------------


async def transfer_ownership(
    from_owner_id: str,
    to_owner_id: str,
    include_open_opportunities: bool,
    actor: Identity,
    customers: CustomerRepository,
    transfers: TransferRepository,
    operations: OperationLog,
) -> TransferOutcome:
    """Gives every customer of ``from`` (a manager: those of their team) to ``to``. Safe to
    run twice: a second run moves only what is still owned by ``from``."""
    if not may_assign(actor):
        raise Forbidden("transferring ownership needs the role manager or admin")
    from_owner = normalise_id(from_owner_id, "fromOwnerId")
    to_owner = normalise_id(to_owner_id, "toOwnerId")
    if from_owner is None or to_owner is None:
        raise BadUserInput("fromOwnerId and toOwnerId are required", field="fromOwnerId")
    if from_owner == to_owner:
        raise BadUserInput("toOwnerId: must differ from fromOwnerId", field="toOwnerId")
    team = None if actor.is_admin else actor.team
    if team is None and not actor.is_admin:
        raise Forbidden("a manager without a team cannot transfer customers")
    operation = await operations.begin(
        Operation(
            id=str(uuid.uuid4()),
            kind=TRANSFER,
            plan={
                "transferId": transfer_id_for(from_owner, to_owner, include_open_opportunities),
                "fromOwnerId": from_owner,
                "toOwnerId": to_owner,
                "includeOpenOpportunities": include_open_opportunities,
                "customerIds": await customers.owned_by(from_owner, team),
                "actorId": actor.user_id,
                "actorName": actor.name,
                # The open deals the pipeline gives away stay within the manager's team.
                "team": team,
            },
        )
    )
    return await run_transfer(operation, customers, transfers, operations)


async def run_transfer(
    operation: Operation,
    customers: CustomerRepository,
    transfers: TransferRepository,
    operations: OperationLog,
) -> TransferOutcome:
    plan = operation.plan
    transfer_id = str(plan["transferId"])
    if operation.state == "DONE" and operation.result is not None:
        result = operation.result
        return TransferOutcome(
            transfer_id, result["movedIds"], result["customerIds"], int(result["runs"])
        )
    from_owner, to_owner = str(plan["fromOwnerId"]), str(plan["toOwnerId"])
    planned = [str(i) for i in plan["customerIds"]]
    await customers.transfer(
        planned,
        from_owner,
        to_owner,
        utcnow(),
        actor_id=plan.get("actorId"),
        actor_name=plan.get("actorName"),
        note=f"transfer {transfer_id}",
    )
    await operations.progress(operation.id, {}, TRANSFER_APPLIED)
    # Moved by this run: planned (owned by ``from`` when it began) and owned by ``to`` now;
    # the same answer whether this is the first pass or a resumption.
    moved = sorted(c.id for c in await customers.get_many(planned) if c.owner_id == to_owner)
    record = await transfers.record(
        transfer_id,
        operation.id,
        from_owner,
        to_owner,
        bool(plan["includeOpenOpportunities"]),
        moved,
        plan.get("actorId"),
        plan.get("actorName"),
        utcnow(),
        team=plan.get("team"),
    )
    result = {"movedIds": moved, "customerIds": record.customer_ids, "runs": record.runs}
    await operations.finish(operation.id, result)
    return TransferOutcome(transfer_id, moved, record.customer_ids, record.runs)


# --- recovery ------------------------------------------------------------------------------


async def finish_unfinished(
    operations: OperationLog,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    transfers: TransferRepository,
    idle_seconds: float = 0,
) -> int:
    """Finishes the PENDING operations idle for ``idle_seconds`` (at start: all of them, the
    process that began them is gone). Returns how many were finished. An operation that can
    no longer be applied is marked FAILED with the reason, and nothing of it is written."""
    finished = 0
    for operation in await operations.unfinished(idle_seconds):
        try:
            if operation.kind == MERGE:
                await run_merge(operation, customers, interactions, operations)
            elif operation.kind == TRANSFER:
                await run_transfer(operation, customers, transfers, operations)
            else:
                await operations.fail(operation.id, f"unknown kind {operation.kind}")
                continue
        except (CrmError, RuleViolation) as exc:
            log.warning(
                "an unfinished operation could not be finished",
                extra={"operation": operation.id, "error": exc.message},
            )
            continue
        finished += 1
        log.info(
            "unfinished operation finished",
            extra={"operation": operation.id, "kind": operation.kind},
        )
    return finished
