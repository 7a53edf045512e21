"""The runtime's exporters across a real os.fork(), as Celery's prefork pool and gunicorn fork.

A child must not inherit an exporter (its pooled connections are the parent's sockets), and a
fork must wait for an export thread's first export, where the HTTP stack imports lazily: a
fork in the middle of an import leaves the child that module's lock, held for good. Both
exporters are built on their first export, off the app's start-up path.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from hatch_otel.runtime import sdk

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(check: Callable[[], bool]) -> bool:
    """Fork; the child runs `check` and exits with its answer; returns it in the parent."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def counting_export() -> tuple[sdk.ForkSafeExport, list[object]]:
    """A ForkSafeExport whose exporters are plain objects, and the list of those it built."""
    builds: list[object] = []

    def build() -> object:
        builds.append(object())
        return builds[-1]

    return sdk.ForkSafeExport(build), builds


@contextmanager
def export_in_progress(export: sdk.ForkSafeExport) -> Iterator[None]:
    """An export on another thread that lasts until the block ends (at most 5 s)."""
    started, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=export.run,
                              args=(lambda exporter: (started.set(), release.wait(5)),))
    thread.start()
    started.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_a_fork_waits_for_the_first_export_to_end() -> None:
    export, _ = counting_export()
    started, ended_at = threading.Event(), []

    def slow_first_export(exporter: object) -> None:
        started.set()
        time.sleep(0.3)  # where requests would be importing netrc
        ended_at.append(time.monotonic())

    thread = threading.Thread(target=export.run, args=(slow_first_export,))
    thread.start()
    started.wait()
    assert in_child(lambda: True)
    forked_at = time.monotonic()
    thread.join()
    assert ended_at and forked_at >= ended_at[0]


def test_later_exports_do_not_hold_up_a_fork() -> None:
    export, _ = counting_export()
    export.run(lambda exporter: None)
    with export_in_progress(export):
        begun = time.monotonic()
        assert in_child(lambda: True)
        assert time.monotonic() - begun < 0.25


def test_a_child_builds_its_own_exporter() -> None:
    export, builds = counting_export()
    parents = export.get()

    def child_has_its_own() -> bool:
        return export.current() is None and export.get() is not parents and len(builds) == 2

    assert in_child(child_has_its_own)
    assert export.get() is parents and len(builds) == 1


def test_a_fork_waits_a_bounded_time_and_the_child_still_exports(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A first export stuck on a collector that does not answer delays a fork by at most
    FORK_WAIT_SECONDS, and the child's own exports are not blocked by the parent's lock."""
    monkeypatch.setattr(sdk, "FORK_WAIT_SECONDS", 0.2)
    export, _ = counting_export()
    with export_in_progress(export):
        begun = time.monotonic()
        assert in_child(lambda: export.run(lambda exporter: "exported") == "exported")
        assert 0.15 < time.monotonic() - begun < 2


class StubExporter:
    """What the OTLP exporters offer the runtime, exporting nothing."""

    def export(self, *args: object, **kwargs: object) -> None:
        return None

    def force_flush(self, timeout_millis: float = 0) -> bool:
        return True

    def shutdown(self, **kwargs: object) -> None:
        return None


def test_an_exporter_that_cannot_be_built_drops_the_export(
        caplog: pytest.LogCaptureFixture) -> None:
    def build() -> object:
        raise ImportError("no OTLP exporter here")

    export = sdk.ForkSafeExport(build, "test exporter")
    assert export.run(lambda exporter: "exported", "failed") == "failed"
    assert export.run(lambda exporter: "exported", "failed") == "failed"
    assert [r.getMessage() for r in caplog.records] == [
        "hatch-otel: the test exporter cannot be loaded; its data is dropped"]


def test_the_metric_exporter_is_built_on_first_export_with_the_env_temporality(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Building it imports the HTTP stack; start-up only reads the env, as the exporter does."""
    from opentelemetry.sdk.metrics import Counter, UpDownCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")
    exporter = sdk.LazyOtlpMetricExporter()
    assert exporter.fork_safe.current() is None
    assert exporter._preferred_temporality[Counter] is AggregationTemporality.DELTA
    assert exporter._preferred_temporality[UpDownCounter] is AggregationTemporality.CUMULATIVE
    built = exporter.fork_safe.get()
    assert built._preferred_temporality == exporter._preferred_temporality
    assert built._preferred_aggregation.keys() == exporter._preferred_aggregation.keys()


def test_a_span_ending_while_the_span_exporter_is_built_waits_for_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The export thread's first export builds the exporter; a busy app would starve that
    build of the GIL, so a span ending meanwhile waits. Before it, and after, nothing waits."""
    from opentelemetry.sdk.trace import ReadableSpan

    building, release = threading.Event(), threading.Event()

    def slow_build(signal: str) -> StubExporter:
        building.set()
        release.wait(5)
        return StubExporter()

    monkeypatch.setattr(sdk, "_otlp_exporter", slow_build)
    exporter = sdk.LazyOtlpSpanExporter()
    processor = sdk.LazyExportSpanProcessor(exporter)
    try:
        span = ReadableSpan("not sampled, so never queued")
        processor.on_end(span)
        assert exporter.fork_safe.current() is None  # a span alone builds nothing
        first_export = threading.Thread(target=exporter.export, args=([],))
        first_export.start()
        building.wait(5)
        threading.Timer(0.2, release.set).start()
        begun = time.monotonic()
        processor.on_end(span)
        assert time.monotonic() - begun > 0.15 and exporter.fork_safe.current() is not None
        first_export.join()
        processor.on_end(span)
        assert vars(processor)["on_end"] == sdk.BatchSpanProcessor.on_end.__get__(processor)
    finally:
        release.set()
        processor.shutdown()


def test_a_span_never_waits_for_an_export_and_waits_a_bounded_time_for_a_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector that does not answer holds the first export, not the app's spans; an import
    that hangs holds a span for at most BUILD_WAIT_SECONDS."""
    from opentelemetry.sdk.trace import ReadableSpan

    monkeypatch.setattr(sdk, "BUILD_WAIT_SECONDS", 0.2)
    exporting, release = threading.Event(), threading.Event()

    class StuckExporter(StubExporter):
        def export(self, *args: object, **kwargs: object) -> None:
            exporting.set()
            release.wait(5)

    span = ReadableSpan("not sampled, so never queued")
    for stuck_in in ("export", "build"):
        def build(signal: str, stuck_in: str = stuck_in) -> StubExporter:
            if stuck_in == "build":
                exporting.set()
                release.wait(5)
            return StuckExporter()

        monkeypatch.setattr(sdk, "_otlp_exporter", build)
        exporting.clear()
        release.clear()
        exporter = sdk.LazyOtlpSpanExporter()
        processor = sdk.LazyExportSpanProcessor(exporter)
        first_export = threading.Thread(target=exporter.export, args=([],))
        first_export.start()
        try:
            exporting.wait(5)
            begun = time.monotonic()
            processor.on_end(span)
            waited = time.monotonic() - begun
            assert waited < 0.1 if stuck_in == "export" else 0.15 < waited < 1.0
        finally:
            release.set()
            first_export.join()
            processor.shutdown()
