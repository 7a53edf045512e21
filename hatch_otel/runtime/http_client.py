"""Outgoing HTTP requests, shared by the client hooks (urllib, http.client, requests, urllib3,
httpx, aiohttp).

One `ClientCall` per request: a CLIENT span named after the method, the W3C headers to send
(through `opentelemetry.propagate`, so OTEL_PROPAGATORS is honoured), the outcome and one
`http.client.request.duration` measurement. Where client libraries are layered (requests over
urllib3 over http.client), the outer layer's call keeps the inner ones quiet, so each request
gets exactly one span. The span and the duration end with the response's headers (the body
is the caller's to read, maybe much later) or with the exception that ended the request.
Nothing here raises into the application.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, NamedTuple

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import report, semconv

HeaderItems = Iterable[tuple[Any, Any]]
MEASURED = ("http.request.method", "server.address", "server.port", "network.protocol.version")


class Outcome(NamedTuple):
    """What a response tells the span: its status, headers and protocol version (raw)."""

    status: int | None
    headers: HeaderItems = ()
    version: object = None


class ClientCall:
    """One outgoing HTTP request: its CLIENT span, the headers to send, its duration."""

    __slots__ = ("attributes", "library", "span", "started")

    @classmethod
    def start(cls, library: str, method: Any, url: Any,
              headers: HeaderItems = ()) -> ClientCall | None:
        """The call, or None when an outer layer (or the SDK's exporter) already covers this
        request, or OTEL_PYTHON_<LIB>_EXCLUDED_URLS matches its URL."""
        if semconv.suppressed("http"):
            return None
        try:
            url = str(url)
            if semconv.is_excluded(library, url):
                return None
            return cls(library, str(method), url, headers)
        except Exception:
            report.hook_failed(f"{library}: starting a client span")
            return None

    def __init__(self, library: str, method: str, url: str, headers: HeaderItems = ()) -> None:
        self.library = library
        self.attributes: dict[str, Any] = semconv.method_attributes(method)
        self.attributes.update(semconv.server_address(url))
        self.attributes["url.full"] = semconv.redact_url(url)
        name = "HTTP" if "http.request.method_original" in self.attributes else (
            self.attributes["http.request.method"])
        self.span = semconv.tracer(library).start_span(
            name, kind=SpanKind.CLIENT,
            attributes={**self.attributes,
                        **semconv.header_attributes("client", "request", headers)})
        self.started = time.perf_counter()

    def headers(self) -> dict[str, str]:
        """traceparent (and whatever else OTEL_PROPAGATORS asks for) for this request."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier

    def inject(self, headers: MutableMapping[str, Any]) -> None:
        """Put `headers()` into a request's header mapping, replacing stale values."""
        for name, value in self.headers().items():
            headers[name] = value

    def add_request_headers(self, headers: HeaderItems) -> None:
        """Request headers known only after the span started (http.client's putheader)."""
        try:
            self.span.set_attributes(semconv.header_attributes("client", "request", headers))
        except Exception:
            report.hook_failed(f"{self.library}: capturing request headers")

    def scope(self) -> contextlib.ExitStack:
        """Entered: the span is current and inner HTTP layers stay quiet, until it is closed
        (use it as `with call.scope():`, or keep it and `close()` it)."""
        stack = contextlib.ExitStack()
        stack.enter_context(trace.use_span(self.span, record_exception=False,
                                           set_status_on_exception=False))
        stack.enter_context(semconv.suppressing("http"))
        return stack

    def finish(self, outcome: Outcome | None, exc: BaseException | None = None) -> None:
        """End the span with the response (an HTTP status >= 400 is the error) or, when there
        was none, the exception; record the duration."""
        try:
            self._finish(outcome, exc)
        except Exception:
            report.hook_failed(f"{self.library}: ending a client span")

    def _finish(self, outcome: Outcome | None, exc: BaseException | None) -> None:
        status = outcome.status if outcome is not None else None
        if outcome is not None:
            version = protocol_version(outcome.version)
            if version:
                self.attributes["network.protocol.version"] = version
                self.span.set_attribute("network.protocol.version", version)
            self.span.set_attributes(
                semconv.header_attributes("client", "response", outcome.headers))
        measured = {k: self.attributes[k] for k in MEASURED if k in self.attributes}
        if status is not None:
            self.span.set_attribute("http.response.status_code", status)
            measured["http.response.status_code"] = status
        if status is None and exc is not None:
            semconv.record_error(self.span, exc)
            measured["error.type"] = semconv.error_type(exc)
        elif status is not None and status >= 400:
            self.span.set_attribute("error.type", str(status))
            self.span.set_status(Status(StatusCode.ERROR))
            measured["error.type"] = str(status)
        self.span.end()
        semconv.duration_histogram(self.library, "http.client.request.duration",
                                   "Duration of HTTP client requests.").record(
            time.perf_counter() - self.started, measured)


def protocol_version(version: object) -> str | None:
    """network.protocol.version ("1.0", "1.1", "2", "3") from what libraries report: 11
    (http.client, urllib3), b"HTTP/1.1" or "HTTP/2" (httpx), (1, 1) (aiohttp)."""
    if isinstance(version, bytes):
        version = version.decode("ascii", "replace")
    if isinstance(version, str):
        text = version.removeprefix("HTTP/")
        return text[0] if text in ("2.0", "3.0") else text or None
    if isinstance(version, int) and not isinstance(version, bool) and version > 0:
        major, minor = divmod(version, 10)
    elif isinstance(version, tuple) and len(version) == 2:
        major, minor = version
    else:
        return None
    return f"{major}.{minor}" if major < 2 else str(major)


def origin_url(scheme: str, host: str, port: int | None, target: str) -> str:
    """url.full of a request a connection sends: `target` is a path, or absolute (proxies)."""
    if target.startswith(("http://", "https://")):
        return target
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    authority = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{authority}{target if target.startswith('/') else '/' + target}"


# -- wrapping a library's send method -----------------------------------------------------------
Begin = Callable[[tuple[Any, ...], dict[str, Any]],
                 "tuple[ClientCall, tuple[Any, ...], dict[str, Any]] | None"]
"""From a send method's arguments: the started call (headers injected) and the arguments to pass
on, or None to leave the request untraced."""
Describe = Callable[[Any], Outcome]
"""From a send method's result: its Outcome."""


def traced_send(library: str, send: Callable[..., Any], begin: Begin,
                describe: Describe) -> Callable[..., Any]:
    """`send` with one span per call, for a class attribute (`Adapter.send = traced_send(...)`)."""

    @functools.wraps(send)
    def traced(*args: Any, **kwargs: Any) -> Any:
        started = _begin(library, begin, args, kwargs)
        if started is None:
            return send(*args, **kwargs)
        call, args, kwargs = started
        with call.scope():
            try:
                result = send(*args, **kwargs)
            except BaseException as exc:
                call.finish(None, exc)
                raise
        call.finish(_describe(library, describe, result))
        return result

    traced.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    return traced


def traced_async_send(library: str, send: Callable[..., Awaitable[Any]], begin: Begin,
                      describe: Describe) -> Callable[..., Awaitable[Any]]:
    """The coroutine twin of `traced_send`."""

    @functools.wraps(send)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        started = _begin(library, begin, args, kwargs)
        if started is None:
            return await send(*args, **kwargs)
        call, args, kwargs = started
        with call.scope():
            try:
                result = await send(*args, **kwargs)
            except BaseException as exc:
                call.finish(None, exc)
                raise
        call.finish(_describe(library, describe, result))
        return result

    traced.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    return traced


def is_traced(method: object) -> bool:
    return bool(getattr(method, "hatch_otel_instrumented", False))


def _begin(library: str, begin: Begin, args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[ClientCall, tuple[Any, ...], dict[str, Any]] | None:
    try:
        return begin(args, kwargs)
    except Exception:
        report.hook_failed(f"{library}: reading a request")
        return None


def _describe(library: str, describe: Describe, result: Any) -> Outcome | None:
    try:
        return describe(result)
    except Exception:
        report.hook_failed(f"{library}: reading a response")
        return None
