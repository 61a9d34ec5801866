"""OpenTelemetry traces: one span per GraphQL request, a child span per subgraph fetch.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (then spans go out over OTLP/HTTP with the
SDK's batch processor, the service named ``crm-gateway``). A fetch's span context goes to
the subgraph in ``traceparent``, so the subgraph's work and the events it publishes (which
carry the ``traceparent`` they were caused by) join the same trace. When tracing is off,
the client's own ``traceparent`` is forwarded unchanged, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Tracer

from gateway.settings import Settings
from gateway.transport import SubgraphTransport


class Tracing:
    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        self.endpoint = settings.otlp_endpoint
        self._exporter = exporter
        self._provider: TracerProvider | None = None
        self.tracer: Tracer | None = None

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None or self._exporter is not None

    def start(self) -> None:
        if not self.enabled:
            return
        exporter = self._exporter
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = str(self.endpoint).rstrip("/")
            if not endpoint.endswith("/v1/traces"):
                endpoint += "/v1/traces"
            exporter = OTLPSpanExporter(endpoint=endpoint)
        provider = TracerProvider(resource=Resource.create({"service.name": "crm-gateway"}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        self._provider = provider
        self.tracer = provider.get_tracer("gateway")

    def stop(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = None
            self.tracer = None

    @contextlib.contextmanager
    def request_span(
        self, operation_name: str | None, kind: str, headers: dict[str, str]
    ) -> Iterator[None]:
        """The request's span, a child of the client's ``traceparent`` if it sent one."""
        if self.tracer is None:
            yield
            return
        parent: Context = extract(headers)
        name = f"{kind} {operation_name}" if operation_name else kind
        with self.tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "graphql.operation.type": kind,
                "graphql.operation.name": operation_name or "",
            },
        ):
            yield


class TracedTransport(SubgraphTransport):
    """A transport whose fetches are spans, their context sent on as ``traceparent``."""

    def __init__(self, tracer: Tracer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracer = tracer

    async def fetch(
        self,
        service: str,
        query: str,
        variables: Mapping[str, Any],
        operation_name: str | None,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        with self._tracer.start_as_current_span(
            f"fetch {service}",
            kind=SpanKind.CLIENT,
            attributes={"crm.subgraph": service, "graphql.operation.name": operation_name or ""},
        ) as span:
            carrier = {k: v for k, v in headers.items() if k not in ("traceparent", "tracestate")}
            inject(carrier)
            response = await super().fetch(service, query, variables, operation_name, carrier)
            if response.get("errors"):
                span.set_attribute("crm.subgraph.errors", len(response["errors"]))
            return response


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
