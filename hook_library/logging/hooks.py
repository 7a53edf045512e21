"""logging: every LogRecord carries the trace and the span it was emitted in.

A LogRecord factory chained in front of the current one adds the fields, so the app's own log
format stays as it is and can print them: %(otelTraceID)s, %(otelSpanID)s,
%(otelTraceSampled)s, %(otelServiceName)s (the names opentelemetry-instrumentation-logging uses,
so existing formats keep working). Outside a span the ids are "0". The logging module is
imported before any app code runs, so the hook runs at the bootstrap.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import trace

from .. import report

_service_name: str | None = None


def correlate_records(module: ModuleType) -> None:
    """On OTEL_PYTHON_LOG_CORRELATION (on unless `false`): install the factory, and the format
    OTEL_PYTHON_LOG_FORMAT asks for (at OTEL_PYTHON_LOG_LEVEL), if any."""
    if os.environ.get("OTEL_PYTHON_LOG_CORRELATION", "true").strip().lower() == "false":
        return
    factory = module.getLogRecordFactory()
    if not getattr(factory, "hatch_otel_instrumented", False):
        module.setLogRecordFactory(CorrelatingFactory(factory))
    log_format = os.environ.get("OTEL_PYTHON_LOG_FORMAT", "").strip()
    if log_format:
        level = getattr(module, os.environ.get("OTEL_PYTHON_LOG_LEVEL", "").strip().upper(),
                        None)
        module.basicConfig(format=log_format, **({"level": level} if isinstance(level, int)
                                                  else {}))


class CorrelatingFactory:
    """Creates records with the factory it replaced, then adds the trace fields."""

    hatch_otel_instrumented = True

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        record = self.wrapped(*args, **kwargs)
        record.otelTraceID = record.otelSpanID = "0"
        record.otelTraceSampled = False
        record.otelServiceName = ""
        try:
            span_context = trace.get_current_span().get_span_context()
            if span_context.is_valid:
                record.otelTraceID = format(span_context.trace_id, "032x")
                record.otelSpanID = format(span_context.span_id, "016x")
                record.otelTraceSampled = span_context.trace_flags.sampled
            record.otelServiceName = service_name()
        except Exception:
            report.hook_failed("logging.records: record factory")
        return record


def service_name() -> str:
    """service.name of the tracer provider's resource, once a provider with one is set."""
    global _service_name
    if _service_name is None:
        resource = getattr(trace.get_tracer_provider(), "resource", None)
        if resource is None:
            return ""
        _service_name = str(resource.attributes.get("service.name", ""))
    return _service_name
