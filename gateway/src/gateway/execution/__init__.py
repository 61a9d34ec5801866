"""Execution: walk the plan, batch and de-duplicate entity representations, merge results,
map errors to client paths, and shape the response to the client's selection."""

from gateway.execution.executor import ExecutionOutcome, Fetcher, PlanExecutor, execute_plan
from gateway.execution.shaping import shape_response

__all__ = ["ExecutionOutcome", "Fetcher", "PlanExecutor", "execute_plan", "shape_response"]
