"""The messaging conventions, shared by the hooks of message brokers and task queues.

One PRODUCER span per message sent, whose context travels in the message's headers (through
`opentelemetry.propagate`, so OTEL_PROPAGATORS is honoured), and one CONSUMER span per message
processed, a child of the context extracted from those headers and linked to it as the
conventions ask. Names, attributes and metrics follow OpenTelemetry's messaging conventions
(`{messaging.operation.name} {destination}`, operation types `send` and `process`, durations in
seconds). Message bodies are never recorded.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, MutableMapping
from contextvars import Token
from types import TracebackType
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, SpanKind

from . import semconv, tracing

METRIC_ATTRIBUTES = ("messaging.system", "messaging.operation.name", "messaging.operation.type",
                     "messaging.destination.name", "server.address", "server.port",
                     "error.type")


class _HeaderGetter(Getter[Mapping[str, Any]]):
    """Reads message headers whose values may arrive as bytes (AMQP long strings)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [key for key in carrier if isinstance(key, str)]


_getter = _HeaderGetter()
_OPERATION = context.create_key("hatch-otel-messaging-operation")


@functools.cache
def _counter(library: str, name: str, description: str) -> Any:
    return metrics.get_meter(tracing.SCOPE_PREFIX + library).create_counter(
        name, unit="{message}", description=description)


class Operation:
    """One message sent or processed: its span, its duration, its message count.

    Used as a context manager around the library call, or started and ended by signal handlers
    (`activate`/`end`) when the call is out of reach. `end` never raises.
    """

    __slots__ = ("attributes", "library", "span", "started", "token")

    def __init__(self, library: str, name: str, kind: SpanKind, attributes: dict[str, Any],
                 parent: context.Context | None = None, links: tuple[Link, ...] = ()) -> None:
        self.library = library
        self.attributes = attributes
        self.span = semconv.tracer(library).start_span(name, context=parent, kind=kind,
                                                       attributes=attributes, links=links)
        self.started = time.perf_counter()
        self.token: Token[context.Context] | None = None

    def set(self, key: str, value: Any) -> None:
        """An attribute learnt after the start (the span's and the measurements')."""
        self.attributes[key] = value
        self.span.set_attribute(key, value)

    def rename(self, destination: str) -> None:
        self.set("messaging.destination.name", destination)
        self.span.update_name(span_name(self.attributes["messaging.operation.name"], destination))

    def inject(self, headers: MutableMapping[str, Any]) -> None:
        """Write this span's context (traceparent, baggage...) into the message headers."""
        propagate.inject(headers, context=trace.set_span_in_context(self.span))

    def activate(self) -> None:
        """Make the span current (and this operation the one `current()` returns)."""
        self.token = context.attach(trace.set_span_in_context(
            self.span, context.set_value(_OPERATION, self)))

    def fail(self, error: BaseException) -> None:
        semconv.record_error(self.span, error)
        self.attributes["error.type"] = semconv.error_type(error)

    def end(self, error: BaseException | None = None) -> None:
        try:
            if self.token is not None:
                context.detach(self.token)
                self.token = None
            if error is not None:
                self.fail(error)
            self.span.end()
            measured = {k: self.attributes[k] for k in METRIC_ATTRIBUTES if k in self.attributes}
            if self.attributes["messaging.operation.type"] == "send":
                duration = ("messaging.client.operation.duration",
                            "Duration of messaging operation initiated by a producer or consumer "
                            "client.")
                count = ("messaging.client.sent.messages",
                         "Number of messages producer attempted to send to the broker.")
            else:
                duration = ("messaging.process.duration", "Duration of processing operation.")
                count = ("messaging.client.consumed.messages",
                         "Number of messages that were delivered to the application.")
            semconv.duration_histogram(self.library, *duration).record(
                time.perf_counter() - self.started, measured)
            _counter(self.library, *count).add(1, measured)
        except Exception:
            from . import report

            report.hook_failed(f"{self.library}: ending a messaging span")

    def __enter__(self) -> Operation:
        self.activate()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.end(error)


def current() -> Operation | None:
    """The messaging operation running in this context, if any (a signal handler's way in)."""
    operation = context.get_value(_OPERATION)
    return operation if isinstance(operation, Operation) else None


def span_name(operation: str, destination: str | None) -> str:
    return f"{operation} {destination}" if destination else operation


def send(library: str, system: str, operation: str, destination: str | None,
         attributes: Mapping[str, Any] | None = None) -> Operation:
    """A PRODUCER span for one message, a child of the current span; inject it with `inject`."""
    values = {"messaging.system": system, "messaging.operation.type": "send",
              "messaging.operation.name": operation, **(attributes or {})}
    if destination is not None:
        values["messaging.destination.name"] = destination
    return Operation(library, span_name(operation, destination), SpanKind.PRODUCER, values)


def process(library: str, system: str, name: str, headers: Mapping[str, Any] | None,
            attributes: Mapping[str, Any] | None = None) -> Operation:
    """A CONSUMER span for one delivered message: a child of (and linked to) its producer."""
    values = {"messaging.system": system, "messaging.operation.type": "process",
              "messaging.operation.name": "process", **(attributes or {})}
    extracted = propagate.extract(headers, getter=_getter) if headers else None
    creation = trace.get_current_span(extracted).get_span_context() if extracted else None
    if creation is None or not creation.is_valid:  # no trace came along: the current one goes on
        return Operation(library, name, SpanKind.CONSUMER, values)
    return Operation(library, name, SpanKind.CONSUMER, values, parent=extracted,
                     links=(Link(creation),))

