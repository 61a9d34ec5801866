"""Finishing what a crash left behind, at start and then periodically (in the API process).

- audit entries still pending in customer documents are moved to the audit collection;
- merges and transfers left PENDING in the operation log are finished.

The first pass runs at once (the process that began that work is gone); later passes, every
``interval`` seconds, take only operations idle that long, so that a request still applying
one is not doubled (doubling would be harmless, every step being idempotent, only wasteful).
"""

from __future__ import annotations

import asyncio
import logging

from customers.adapters.audit_log import AuditMover
from customers.service_layer import operations
from customers.service_layer.ports import (
    CustomerRepository,
    InteractionRepository,
    OperationLog,
    TransferRepository,
)

log = logging.getLogger(__name__)


async def recover(
    audit: AuditMover,
    log_of_operations: OperationLog,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    transfers: TransferRepository,
    idle_seconds: float,
) -> None:
    moved = await audit.sweep()
    finished = await operations.finish_unfinished(
        log_of_operations, customers, interactions, transfers, idle_seconds
    )
    if moved or finished:
        log.info("recovered", extra={"audit_documents": moved, "operations": finished})


async def run_recovery(
    audit: AuditMover,
    log_of_operations: OperationLog,
    customers: CustomerRepository,
    interactions: InteractionRepository,
    transfers: TransferRepository,
    interval: float,
) -> None:
    """Until cancelled; a failed pass (database away) is tried again at the next one."""
    idle = 0.0
    while True:
        try:
            await recover(audit, log_of_operations, customers, interactions, transfers, idle)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("recovery pass failed; retrying", extra={"error": repr(exc)})
        else:
            idle = interval
        await asyncio.sleep(interval)
