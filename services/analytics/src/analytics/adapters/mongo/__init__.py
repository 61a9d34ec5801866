"""MongoDB adapters: the event store, the deal repository and the read model.

Collections of the ``analytics`` database:

``events``
    Every event received, ``_id`` = CloudEvent id, envelope as received plus ``receivedAt``.
    It is the event store and, by its ids, the record of processed events. Indexed by
    ``(subject, sequence)`` (held events, rebuild) and ``data.pipelineId`` (backtest).
``opportunities``
    One document per opportunity: the ``DealState`` (``analytics.domain.deal``) with its
    revision ``rev`` (optimistic concurrency), plus query fields: ``stageId``/``stageOrder``/
    ``stageKind``, ``maxOpenOrderReached``/``reachedWon`` (the all-owner COHORT funnel groups on
    them), ``creditOwners`` (per-owner COHORT), ``moveTimes`` (SNAPSHOT).
``pipelines``
    One document per pipeline: the latest stage list seen in events (``stages``, ``stagesAsOf``)
    and ``changes``, a counter the worker bumps (at most every ``ANALYTICS_NOTIFY_SECONDS``)
    after applying events of the pipeline: the key of the API's cache of derived figures;
    ``generation``, raised by each ``analytics-rebuild`` that swaps projections in (absent: 0),
    and ``snapshot``, the current snapshot of the pipeline's deals (see ``snapshots``).
``snapshots``
    Compressed chunks of the API's deal cache (see ``analytics.adapters.snapshot``).

Reports read ``opportunities`` (one document per deal, never the events).
"""
