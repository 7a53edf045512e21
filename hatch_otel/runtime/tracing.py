"""Tracers whose SDK is set up on the first span, so an app that configures OpenTelemetry
itself during start-up keeps its own provider (and its exporters) instead of ours.

Until something sets a provider, the OpenTelemetry API hands out proxies; every span the runtime
starts goes through a `LazyTracer`, whose first span installs the SDK from the OTEL_* variables
unless the app (or opentelemetry-instrument) has installed a provider by then.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace

SCOPE_PREFIX = "hatch_otel."
_pending: Callable[[], None] | None = None
_lock = threading.Lock()


def configure_on_first_span(configure: Callable[[], None]) -> None:
    """Remember how to set up the SDK; `LazyTracer` runs it at most once, when first needed."""
    global _pending
    _pending = configure


def _configure_if_pending() -> None:
    global _pending
    with _lock:
        configure, _pending = _pending, None
    if configure is not None and isinstance(trace.get_tracer_provider(),
                                            trace.ProxyTracerProvider):
        configure()


class LazyTracer(trace.Tracer):
    """A tracer for the runtime's own spans; once resolved, its methods are the real tracer's
    (instance attributes shadow the class's), so a span costs no extra call."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self._name = name
        self._version = version
        self._tracer: trace.Tracer | None = None

    def _real(self) -> trace.Tracer:
        tracer = self._tracer
        if tracer is None:
            _configure_if_pending()
            tracer = self._tracer = trace.get_tracer(self._name, self._version)
            vars(self).update(start_span=tracer.start_span,
                              start_as_current_span=tracer.start_as_current_span)
        return tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._real().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_as_current_span(*args, **kwargs)


@functools.cache
def tracer(library: str, version: str | None = None) -> LazyTracer:
    """The tracer of one instrumentation, scope `hatch_otel.<library>`."""
    return LazyTracer(SCOPE_PREFIX + library, version)


def flush_on_sigterm() -> None:
    """`docker stop` sends SIGTERM, which skips atexit: flush spans and metrics first, then
    die as before. Only when SIGTERM still has its default action; an app's own handler wins."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def flush_then_terminate(signum: int, frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)
        try:
            for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
                flush = getattr(provider, "force_flush", None)
                if flush is not None:
                    flush(2000)
        finally:
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, flush_then_terminate)
