"""The one error planning raises."""

from __future__ import annotations


class PlanningError(Exception):
    """The operation cannot be planned over this supergraph."""
