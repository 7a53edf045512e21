"""http.server: serve requests through a traced subclass of the handler class.

The subclass wraps every `do_<METHOD>` the handler defines and notes the status sent, so one
SERVER span covers each request with its method, path and status.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import semconv
from ..context import HookContext

LIBRARY = "http.server"


def trace_handler(ctx: HookContext) -> None:
    """Before `HTTPServer(address, Handler)`: swap in the traced subclass."""
    handler = ctx.get_param("RequestHandlerClass")
    if isinstance(handler, type) and issubclass(handler, BaseHTTPRequestHandler):
        ctx.set_param("RequestHandlerClass", traced_handler(handler))


@functools.cache
def traced_handler(handler: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    if getattr(handler, "hatch_otel_instrumented", False):
        return handler
    methods = {name: _traced(getattr(handler, name)) for name in dir(handler)
               if name.startswith("do_") and callable(getattr(handler, name))}

    def send_response(self: Any, code: int, message: str | None = None) -> None:
        self.hatch_otel_status = code
        handler.send_response(self, code, message)

    return type(handler.__name__, (handler,), {
        **methods, "send_response": send_response, "hatch_otel_instrumented": True,
        "__module__": handler.__module__, "__qualname__": handler.__qualname__,
    })


def _traced(method: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(method)
    def traced(self: Any) -> None:
        parts = urlsplit(self.path)
        if semconv.is_excluded(LIBRARY, self.path):
            return method(self)
        started = time.perf_counter()
        attributes = semconv.method_attributes(self.command)
        attributes.update(_attributes(self, parts.path or "/", parts.query))
        span = semconv.tracer(LIBRARY).start_span(
            attributes["http.request.method"], kind=SpanKind.SERVER, attributes=attributes,
            context=propagate.extract(dict(self.headers.items())))
        token = context.attach(trace.set_span_in_context(span))
        self.hatch_otel_status = None
        error: BaseException | None = None
        try:
            method(self)
        except BaseException as exc:
            error = exc
            raise
        finally:
            context.detach(token)
            _finish(span, attributes, self.hatch_otel_status, error, started)

    return traced


def _attributes(handler: Any, path: str, query: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"url.path": path, "url.scheme": "http"}
    if query:
        attributes["url.query"] = semconv.redact_query(query)
    host = handler.headers.get("Host")
    if host:
        attributes.update(semconv.server_address(f"http://{host}"))
    else:
        address, port = handler.server.server_address[:2]
        attributes.update({"server.address": str(address), "server.port": port})
    attributes["client.address"] = handler.client_address[0]
    agent = handler.headers.get("User-Agent")
    if agent:
        attributes["user_agent.original"] = agent
    if handler.request_version.startswith("HTTP/"):
        attributes["network.protocol.version"] = handler.request_version[5:]
    return attributes


def _finish(span: Any, attributes: dict[str, Any], status: int | None,
            error: BaseException | None, started: float) -> None:
    measured = {k: attributes[k] for k in ("http.request.method", "url.scheme",
                                           "network.protocol.version") if k in attributes}
    if status is not None:
        span.set_attribute("http.response.status_code", status)
        measured["http.response.status_code"] = status
    if error is not None:
        semconv.record_error(span, error)
        measured["error.type"] = type(error).__qualname__
    elif status is not None and status >= 500:
        span.set_attribute("error.type", str(status))
        span.set_status(Status(StatusCode.ERROR))
        measured["error.type"] = str(status)
    span.end()
    semconv.duration_histogram(LIBRARY, "http.server.request.duration",
                               "Duration of HTTP server requests.").record(
        time.perf_counter() - started, measured)
