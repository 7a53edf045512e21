"""Configure the OpenTelemetry SDK from the standard OTEL_* variables, once per process.

Called on the runtime's first span (see tracing.py), and only when no tracer provider is set:
the app's own configuration, or opentelemetry-instrument's, always wins. The OTLP exporters are
imported on first export, on the export thread; the metrics pipeline is set up with the traces.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from . import process_metrics, report


def resource(default_service_name: str, distro_version: str) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the project's name."""
    attributes: dict[str, Any] = {
        "telemetry.distro.name": "hatch-otel",
        "telemetry.distro.version": distro_version,
    }
    named_in_env = os.environ.get("OTEL_SERVICE_NAME") or any(
        pair.split("=", 1)[0].strip() == "service.name"
        for pair in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    )
    if not named_in_env:
        attributes["service.name"] = default_service_name
    return Resource.create(attributes)


def configure(default_service_name: str, distro_version: str) -> None:
    """Install a tracer provider and a meter provider from the env.

    Both are set up here, on the runtime's first span, so that no measurement is lost: a
    meter provider set up later (on a thread) would miss what the first operations record,
    which in a worker forked per task (Celery's prefork pool) can be every task's."""
    res = resource(default_service_name, distro_version)
    provider = TracerProvider(resource=res)  # the sampler comes from OTEL_TRACES_SAMPLER(_ARG)
    for name in _exporter_names("OTEL_TRACES_EXPORTER"):
        if name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(LazyOtlpSpanExporter()))
        elif name == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            report.once(f"exporter:{name}", "hatch-otel: OTEL_TRACES_EXPORTER=%s is not "
                        "supported (use otlp, console or none); ignored", name)
    trace.set_tracer_provider(provider)
    metric_exporters = _exporter_names("OTEL_METRICS_EXPORTER")
    if metric_exporters:
        _configure_metrics(res, metric_exporters, distro_version)


def _exporter_names(variable: str) -> list[str]:
    names = [n.strip().lower() for n in os.environ.get(variable, "otlp").split(",")]
    return [n for n in names if n and n != "none"]


def _protocol(signal: str) -> str:
    protocol = (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol == "grpc":
        try:
            import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
        except ImportError:
            report.once("grpc", "hatch-otel: OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs "
                        "opentelemetry-exporter-otlp-proto-grpc; exporting over http/protobuf")
            return "http/protobuf"
        return "grpc"
    if protocol != "http/protobuf":
        report.once(f"protocol:{protocol}", "hatch-otel: OTLP protocol %r is not supported; "
                    "exporting over http/protobuf", protocol)
    return "http/protobuf"


class LazyOtlpSpanExporter(SpanExporter):
    """Imports and builds the OTLP span exporter on first export, off the app's start-up path."""

    def __init__(self) -> None:
        self._exporter: SpanExporter | None = None
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            # A fork (Celery's prefork pool, gunicorn) while a thread imports the exporter
            # would leave the child half-imported modules (`requests` without `Session`).
            os.register_at_fork(before=self._lock.acquire, after_in_parent=self._lock.release,
                                after_in_child=self._lock.release)

    def _get(self) -> SpanExporter:
        with self._lock:
            if self._exporter is None:
                if _protocol("TRACES") == "grpc":
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                        OTLPSpanExporter,
                    )
                else:
                    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                        OTLPSpanExporter,
                    )
                self._exporter = OTLPSpanExporter()
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            exporter = self._get()
        except Exception:
            report.once("otlp-import", "hatch-otel: the OTLP span exporter cannot be loaded; "
                        "spans are dropped", exc_info=True)
            return SpanExportResult.FAILURE
        return exporter.export(spans)

    def shutdown(self) -> None:
        if self._exporter is not None:
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True if self._exporter is None else self._exporter.force_flush(timeout_millis)


def _configure_metrics(res: Resource, exporters: list[str], version: str) -> None:
    """Instruments made earlier through the API's proxy meter attach to this provider."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricExporter,
            PeriodicExportingMetricReader,
        )

        readers = []
        for name in exporters:
            exporter: MetricExporter
            if name == "otlp":
                if _protocol("METRICS") == "grpc":
                    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                        OTLPMetricExporter,
                    )
                else:
                    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                        OTLPMetricExporter,
                    )
                exporter = OTLPMetricExporter()
            elif name == "console":
                exporter = ConsoleMetricExporter()
            else:
                report.once(f"metric-exporter:{name}", "hatch-otel: OTEL_METRICS_EXPORTER=%s "
                            "is not supported (use otlp, console or none); ignored", name)
                continue
            readers.append(PeriodicExportingMetricReader(exporter))
        if readers:
            provider = MeterProvider(resource=res, metric_readers=readers)
            metrics.set_meter_provider(provider)
            process_metrics.register(provider, version)
    except Exception:
        report.once("metrics-setup", "hatch-otel: metrics could not be set up; traces continue",
                    exc_info=True)
