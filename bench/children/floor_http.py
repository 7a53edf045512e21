"""The Flask per-request floor: one SERVER span per request written by hand as a WSGI
middleware, with the attributes the woven middleware sets and traceparent extraction through
opentelemetry.propagate. With `metric=True` it also records http.server.request.duration, as the
woven app and opentelemetry-instrument both do. (FastAPI needs no such floor: its releases with
built-in telemetry make the span themselves once an SDK is configured.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind

SPAN_KEY = "floor.span"


class _EnvironGetter(Getter[dict[str, Any]]):
    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


def _histogram(metric: bool) -> Any:
    if not metric:
        return None
    return metrics.get_meter("bench.floor").create_histogram(
        "http.server.request.duration", unit="s", description="Duration of HTTP server requests.")


class _Floor:
    def __init__(self, app: Any, metric: bool) -> None:
        self.app = app
        self.tracer = trace.get_tracer("bench.floor")
        self.duration = _histogram(metric)

    def finish(self, span: Any, attributes: dict[str, Any], status: int | None,
               route: str | None, started: float) -> None:
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        span.end()
        if self.duration is not None:
            measured = {"http.request.method": attributes["http.request.method"],
                        "url.scheme": attributes["url.scheme"]}
            if route:
                measured["http.route"] = route
            if status is not None:
                measured["http.response.status_code"] = status
            self.duration.record(time.perf_counter() - started, measured)


class FloorWsgi(_Floor):
    """The route arrives through Flask's request_started signal (see `flask_route`)."""

    _getter = _EnvironGetter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        host, _, port = environ.get("HTTP_HOST", "").partition(":")
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": environ["wsgi.url_scheme"],
            "url.path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"),
            "server.address": host or environ.get("SERVER_NAME", ""),
            "network.protocol.version": environ.get("SERVER_PROTOCOL", "HTTP/1.1")[5:],
        }
        if port.isdigit():
            attributes["server.port"] = int(port)
        if environ.get("REMOTE_ADDR"):
            attributes["client.address"] = environ["REMOTE_ADDR"]
        if environ.get("HTTP_USER_AGENT"):
            attributes["user_agent.original"] = environ["HTTP_USER_AGENT"]
        parent = propagate.extract(environ, getter=self._getter)
        span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER,
                                      attributes=attributes)
        environ[SPAN_KEY] = span
        token = context.attach(trace.set_span_in_context(span))
        status: list[int] = []

        def traced_start_response(line: str, headers: Any, *exc_info: Any) -> Any:
            status.append(int(line[:3]))
            return start_response(line, headers, *exc_info)

        try:
            return self.app(environ, traced_start_response)
        finally:
            context.detach(token)
            self.finish(span, attributes, status[0] if status else None,
                        environ.get("floor.route"), started)


def flask_route(sender: Any, **_: Any) -> None:
    """request_started handler: name the span `{method} {route}` once Flask knows the route."""
    import flask

    rule = flask.request.url_rule
    span = flask.request.environ.get(SPAN_KEY)
    if rule is not None and span is not None:
        flask.request.environ["floor.route"] = rule.rule
        span.update_name(f"{flask.request.method} {rule.rule}")
        span.set_attribute("http.route", rule.rule)
