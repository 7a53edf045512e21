"""A WSGI middleware producing one SERVER span and one duration measurement per request.

Shared by every WSGI hook (wsgiref, Flask, Django, gunicorn apps): the first middleware on the
request claims it through the environ, so layered hooks enrich one span instead of doubling it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import semconv

SPAN_KEY = "hatch_otel.span"
ROUTE_KEY = "hatch_otel.route"
ERROR_KEY = "hatch_otel.error"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _EnvironGetter(Getter[dict[str, Any]]):
    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if value is not None else None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_getter = _EnvironGetter()


def set_route(environ: dict[str, Any], route: str) -> None:
    """Called by framework hooks once the route is known: names the span `{method} {route}`."""
    environ[ROUTE_KEY] = route
    span = environ.get(SPAN_KEY)
    if span is not None:
        span.update_name(f"{environ.get('REQUEST_METHOD', 'GET')} {route}")
        span.set_attribute("http.route", route)


def set_error(environ: dict[str, Any], exc: BaseException) -> None:
    """Called by framework hooks that turn an exception into a 500 response themselves."""
    environ[ERROR_KEY] = exc


class OtelMiddleware:
    """Wraps a WSGI application; marks itself so it is never applied twice."""

    hatch_otel_instrumented = True

    def __init__(self, app: WsgiApp, library: str) -> None:
        self.app = app
        self.library = library
        self.tracer = semconv.tracer(library)
        self.duration = semconv.duration_histogram(
            library, "http.server.request.duration", "Duration of HTTP server requests.")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if SPAN_KEY in environ or semconv.is_excluded(self.library, _url(environ)):
            return self.app(environ, start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET")
        attributes = _request_attributes(environ, method)
        span = self.tracer.start_span(
            attributes["http.request.method"] if "http.request.method_original" not in attributes
            else "HTTP", context=propagate.extract(environ, getter=_getter),
            kind=SpanKind.SERVER, attributes=attributes)
        environ[SPAN_KEY] = span
        token = context.attach(trace.set_span_in_context(span))
        status: list[int] = []

        def traced_start_response(status_line: str, headers: Any, *exc_info: Any) -> Any:
            code = status_line.split(" ", 1)[0]
            if code.isdigit():
                status[:] = [int(code)]
            return start_response(status_line, headers, *exc_info)

        try:
            body = self.app(environ, traced_start_response)
        except BaseException as exc:
            self._finish(span, environ, attributes, status, started, exc)
            raise
        finally:
            context.detach(token)
        return _ClosingBody(body, lambda exc: self._finish(span, environ, attributes, status,
                                                            started, exc))

    def _finish(self, span: Any, environ: dict[str, Any], attributes: dict[str, Any],
                status: list[int], started: float, exc: BaseException | None) -> None:
        measured: dict[str, Any] = {k: attributes[k] for k in ("http.request.method", "url.scheme",
                                               "network.protocol.version") if k in attributes}
        route = environ.get(ROUTE_KEY)
        if route:
            measured["http.route"] = route
        if status:
            span.set_attribute("http.response.status_code", status[0])
            measured["http.response.status_code"] = status[0]
        exc = exc or environ.get(ERROR_KEY)
        if exc is not None:
            semconv.record_error(span, exc)
            measured["error.type"] = semconv.error_type(exc)
        elif status and status[0] >= 500:
            span.set_attribute("error.type", str(status[0]))
            span.set_status(Status(StatusCode.ERROR))
            measured["error.type"] = str(status[0])
        span.end()
        self.duration.record(time.perf_counter() - started, measured)


class _ClosingBody:
    """The response body, ending the span when the server closes it (streaming included)."""

    def __init__(self, body: Iterable[bytes], finish: Callable[[BaseException | None], None]):
        self.body = body
        self.finish = finish
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.body
        except BaseException as exc:
            self._finish(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish(None)

    def _finish(self, exc: BaseException | None) -> None:
        if not self.finished:
            self.finished = True
            self.finish(exc)


def _url(environ: dict[str, Any]) -> str:
    query = environ.get("QUERY_STRING")
    path = environ.get("PATH_INFO", "") or "/"
    return f"{environ.get('SCRIPT_NAME', '')}{path}" + (f"?{query}" if query else "")


def _request_attributes(environ: dict[str, Any], method: str) -> dict[str, Any]:
    attributes: dict[str, Any] = semconv.method_attributes(method)
    attributes["url.scheme"] = environ.get("wsgi.url_scheme", "http")
    attributes["url.path"] = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")
    query = environ.get("QUERY_STRING")
    if query:
        attributes["url.query"] = semconv.redact_query(query)
    host = environ.get("HTTP_HOST")
    if host:
        name, _, port = host.rpartition(":") if host.rfind(":") > host.rfind("]") else (
            host, "", "")
        attributes["server.address"] = name or host
        if port.isdigit():
            attributes["server.port"] = int(port)
    else:
        attributes["server.address"] = environ.get("SERVER_NAME", "")
        if str(environ.get("SERVER_PORT", "")).isdigit():
            attributes["server.port"] = int(environ["SERVER_PORT"])
    if environ.get("REMOTE_ADDR"):
        attributes["client.address"] = environ["REMOTE_ADDR"]
    if environ.get("HTTP_USER_AGENT"):
        attributes["user_agent.original"] = environ["HTTP_USER_AGENT"]
    protocol = environ.get("SERVER_PROTOCOL", "")
    if protocol.startswith("HTTP/"):
        attributes["network.protocol.version"] = protocol[5:]
    return attributes
