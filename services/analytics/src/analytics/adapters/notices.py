"""Outbound: the worker's ``analytics.projection.updated`` notice, the one event analytics
publishes (best effort, so no outbox: a lost notice only delays an update until the next).
Its inbound reading is ``entrypoints/messages.py``'s ``notified_pipeline``."""

from __future__ import annotations

from crm_common.events import CloudEvent, new_event

SOURCE = "crm/analytics"
NOTIFY_TYPE = "analytics.projection.updated"


def projection_updated(pipeline_id: str, sequence: int) -> CloudEvent:
    return new_event(
        source=SOURCE,
        type=NOTIFY_TYPE,
        subject=pipeline_id,
        sequence=sequence,
        data={"pipelineId": pipeline_id},
    )
