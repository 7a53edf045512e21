"""Configure the OpenTelemetry SDK from the standard OTEL_* variables, once per process.

Called on the runtime's first span (see tracing.py), and only when no tracer provider is set:
the app's own configuration, or opentelemetry-instrument's, always wins. The OTLP exporters are
imported on first export, on the export threads; the metrics pipeline is set up with the traces.
Both exporters survive a fork (see ForkSafeExport).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import Aggregation
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
            provider.add_span_processor(LazyExportSpanProcessor(LazyOtlpSpanExporter()))
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


FORK_WAIT_SECONDS = 2.0
"""How long a fork waits for an exporter's first export to end (see ForkSafeExport)."""
BUILD_WAIT_SECONDS = 1.0
"""How long a thread ending a span waits, once, for the span exporter's first build."""


class ForkSafeExport:
    """Builds an exporter on first export, and keeps each process's exporter its own across fork.

    Two fork hazards, both met by servers and workers that fork after the first span (Celery's
    prefork pool, gunicorn): a child must not share its parent's exporter, whose pooled HTTP
    connections are the parent's sockets; and a fork must not happen while an export thread is
    in its first export, where the HTTP stack imports what it imports lazily (requests imports
    `netrc` then): the child would inherit that module's import lock, held by a thread it does
    not have, and its exports would hang for good. So the first export holds a lock that a fork
    waits for (at most FORK_WAIT_SECONDS), and a child drops the exporter it inherited."""

    def __init__(self, build: Callable[[], Any], name: str = "exporter") -> None:
        self._build = build
        self._name = name
        self._exporter: Any = None
        self._building = False
        self._built = threading.Event()
        self._first_done = False
        self._lock = threading.RLock()
        self._held_for_fork = False
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(before=self._before_fork, after_in_parent=self._after_fork,
                                after_in_child=self._in_child)

    def get(self) -> Any:
        with self._lock:
            if self._exporter is None:
                self._building = True
                try:
                    self._exporter = self._build()
                finally:
                    self._building = False
                    self._built.set()
            return self._exporter

    def wait_for_build(self) -> None:
        """Return once a build in progress (on another thread) has ended, or after
        BUILD_WAIT_SECONDS; builds nothing, and never waits for an export."""
        if self._building:
            self._built.wait(BUILD_WAIT_SECONDS)

    def run(self, export: Callable[[Any], Any], failed: Any = None) -> Any:
        """`export(exporter)`, the first time with the fork lock held; `failed` when the
        exporter cannot be built (reported once; what was to be exported is dropped)."""
        try:
            exporter = self.get()
        except Exception:
            report.once(f"build:{self._name}", "hatch-otel: the %s cannot be loaded; its data "
                        "is dropped", self._name, exc_info=True)
            return failed
        if self._first_done:
            return export(exporter)
        with self._lock:
            try:
                return export(exporter)
            finally:
                self._first_done = True

    def current(self) -> Any:
        """The exporter if it was built, without building it."""
        return self._exporter

    def force_flush(self, timeout_millis: float) -> bool:
        exporter = self._exporter
        return True if exporter is None else bool(exporter.force_flush(timeout_millis))

    def shutdown(self, **kwargs: Any) -> None:
        if self._exporter is not None:
            self._exporter.shutdown(**kwargs)

    def _before_fork(self) -> None:
        self._held_for_fork = self._lock.acquire(timeout=FORK_WAIT_SECONDS)

    def _after_fork(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def _in_child(self) -> None:
        self._lock = threading.RLock()
        self._held_for_fork = False
        self._exporter = None
        self._building = False
        self._built = threading.Event()
        self._first_done = False


_OTLP_EXPORTERS = {"TRACES": ("trace_exporter", "OTLPSpanExporter"),
                   "METRICS": ("metric_exporter", "OTLPMetricExporter")}


def _otlp_exporter(signal: str) -> Any:
    """A signal's OTLP exporter, over the protocol OTEL_EXPORTER_OTLP_*PROTOCOL asks for."""
    module, name = _OTLP_EXPORTERS[signal]
    transport = "grpc" if _protocol(signal) == "grpc" else "http"
    return getattr(import_module(f"opentelemetry.exporter.otlp.proto.{transport}.{module}"),
                   name)()


class LazyOtlpSpanExporter(SpanExporter):
    """The OTLP span exporter, imported and built on first export, off the app's start-up path."""

    def __init__(self) -> None:
        self.fork_safe = ForkSafeExport(functools.partial(_otlp_exporter, "TRACES"),
                                        "OTLP span exporter")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result: SpanExportResult = self.fork_safe.run(lambda exporter: exporter.export(spans),
                                                      SpanExportResult.FAILURE)
        return result

    def shutdown(self) -> None:
        self.fork_safe.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.fork_safe.force_flush(timeout_millis)


class LazyExportSpanProcessor(BatchSpanProcessor):
    """The batch processor of the lazy span exporter. Its first export builds the exporter on
    the export thread: about 50 ms of imports, which a busy app starves of the GIL (each file
    read hands the GIL back) for seconds while the queue overflows and spans are dropped. So a
    thread ending a span meanwhile waits for that build, once and off the GIL; once the
    exporter exists, spans go straight to the batch processor."""

    def __init__(self, exporter: LazyOtlpSpanExporter) -> None:
        super().__init__(exporter)
        self._export = exporter.fork_safe

    def on_end(self, span: ReadableSpan) -> None:
        if self._export.current() is not None:
            vars(self)["on_end"] = super().on_end
        else:
            self._export.wait_for_build()
        super().on_end(span)


class LazyOtlpMetricExporter(MetricExporter):
    """The OTLP metric exporter, imported and built on first export like the span exporter."""

    def __init__(self) -> None:
        self.fork_safe = ForkSafeExport(functools.partial(_otlp_exporter, "METRICS"),
                                        "OTLP metric exporter")
        temporality, aggregation = _metric_preferences(self.fork_safe)
        super().__init__(preferred_temporality=temporality, preferred_aggregation=aggregation)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
               **kwargs: Any) -> MetricExportResult:
        result: MetricExportResult = self.fork_safe.run(
            lambda exporter: exporter.export(metrics_data, timeout_millis=timeout_millis,
                                             **kwargs), MetricExportResult.FAILURE)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.fork_safe.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.fork_safe.shutdown(timeout_millis=timeout_millis, **kwargs)


def _metric_preferences(export: ForkSafeExport) -> tuple[dict[type, AggregationTemporality],
                                                         dict[type, Aggregation]]:
    """The temporality and aggregation the OTLP metric exporter reads from the env, without
    building it: that imports the HTTP stack (requests, urllib3, protobuf: some 50 ms of
    start-up), which its first export does instead, on the reader's thread. The helper is the
    exporter package's private one: a release without it, or with another signature, has its
    exporter built at once and asked."""
    try:
        from opentelemetry.exporter.otlp.common._aggregation import (
            _get_aggregation,
            _get_temporality,
        )

        return _get_temporality(None), _get_aggregation(None)
    except (ImportError, TypeError):
        exporter = export.get()
        return exporter._preferred_temporality, exporter._preferred_aggregation


def _configure_metrics(res: Resource, exporters: list[str], version: str) -> None:
    """Instruments made earlier through the API's proxy meter attach to this provider."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider

        readers = []
        for name in exporters:
            exporter: MetricExporter
            if name == "otlp":
                exporter = LazyOtlpMetricExporter()
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
