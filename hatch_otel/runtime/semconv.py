"""Shared pieces of OpenTelemetry's stable semantic conventions, for the bundled hooks.

Names and units follow the stable HTTP and database conventions. Nothing sensitive leaves the
process by default: credentials in URLs and the values of signing query parameters are
redacted, SQL literals are replaced by `?`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import Token
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context, metrics, trace
from opentelemetry.propagators.textmap import Getter

from . import report, tracing

REDACTED = "REDACTED"
SENSITIVE_QUERY_KEYS = frozenset(
    {"awsaccesskeyid", "signature", "sig", "x-goog-signature", "x-amz-signature",
     "x-amz-credential", "x-amz-security-token", "token", "access_token", "api_key", "apikey",
     "password", "secret", "client_secret"}
)
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"}
)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                    10.0)


def tracer(library: str) -> trace.Tracer:
    """The tracer of one instrumentation (its first span sets up the SDK if nobody did)."""
    return tracing.tracer(library)


@functools.cache
def duration_histogram(library: str, name: str, description: str) -> Any:
    meter = metrics.get_meter(tracing.SCOPE_PREFIX + library)
    return meter.create_histogram(name, unit="s", description=description,
                                  explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))


def method_attributes(method: str) -> dict[str, str]:
    """http.request.method, with unknown methods folded into _OTHER as the convention asks."""
    upper = method.upper()
    if upper in KNOWN_METHODS:
        return {"http.request.method": upper}
    return {"http.request.method": "_OTHER", "http.request.method_original": method}


def redact_query(query: str) -> str:
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        key, sep, _ = pair.partition("=")
        parts.append(f"{key}={REDACTED}" if sep and key.lower() in SENSITIVE_QUERY_KEYS
                     else pair)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """url.full without user:password and with signing query values replaced by REDACTED."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}:{REDACTED}@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query),
                       parts.fragment))


def server_address(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    attributes: dict[str, Any] = {}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    if port:
        attributes["server.port"] = port
    return attributes


@functools.cache
def excluded_urls(library: str) -> re.Pattern[str] | None:
    """OTEL_PYTHON_<LIB>_EXCLUDED_URLS or OTEL_PYTHON_EXCLUDED_URLS: comma-separated regexes."""
    variable = re.sub(r"[^A-Z0-9]", "_", library.upper())  # aiohttp-server: AIOHTTP_SERVER
    raw = (os.environ.get(f"OTEL_PYTHON_{variable}_EXCLUDED_URLS")
           or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS", ""))
    patterns = [p.strip() for p in raw.split(",") if p.strip()]
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error:
        report.once(f"excluded-urls:{library}", "hatch-otel: excluded-URL patterns %r are not "
                    "valid regular expressions; nothing is excluded", raw)
        return None


def is_excluded(library: str, url: str) -> bool:
    pattern = excluded_urls(library)
    return pattern is not None and pattern.search(url) is not None


# -- one span per operation ----------------------------------------------------------------------
_SUPPRESSED = {kind: context.create_key(f"hatch-otel-suppress-{kind}") for kind in
               ("http", "db", "messaging")}


@contextlib.contextmanager
def suppressing(kind: str) -> Iterator[None]:
    """While an outer hook (requests, SQLAlchemy) traces an operation, inner layers (urllib3,
    the DB driver) stay quiet, so each operation gets exactly one span."""
    token = context.attach(context.set_value(_SUPPRESSED[kind], True))
    try:
        yield
    finally:
        context.detach(token)


def suppressed(kind: str) -> bool:
    """True inside `suppressing(kind)` or OpenTelemetry's own suppress-instrumentation scope."""
    return bool(context.get_value(_SUPPRESSED[kind])
                or context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY))


# -- databases -----------------------------------------------------------------------------------
_SQL_LITERAL = re.compile(
    r"[xX]'[0-9a-fA-F]*'|[eE]?'(?:[^'\\]|''|\\.)*'|\$([A-Za-z_]\w*|)\$.*?\$\1\$"
    r"|(?<![\w.$])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b|\b(?:TRUE|FALSE|true|false)\b",
    re.S,
)
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_SQL_COLLECTION = re.compile(
    r"\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?([\w.\"`\[\]]+)", re.I
)


def sanitize_sql(statement: str) -> str:
    """db.query.text: string, numeric and boolean literals become `?`; comments go."""
    without_comments = _SQL_COMMENT.sub(" ", statement)
    return " ".join(_SQL_LITERAL.sub("?", without_comments).split())


def sql_operation(statement: str) -> str | None:
    words = _SQL_COMMENT.sub(" ", statement).split(None, 1)
    return words[0].upper() if words else None


def sql_collection(statement: str) -> str | None:
    match = _SQL_COLLECTION.search(_SQL_COMMENT.sub(" ", statement))
    return match.group(1).strip('"`[]') if match else None


def db_span_name(operation: str | None, collection: str | None, fallback: str) -> str:
    """`{db.operation.name} {db.collection.name}`, as the database conventions name spans."""
    if operation and collection:
        return f"{operation} {collection}"
    return operation or fallback


def record_error(span: Any, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(exc)
    span.set_attribute("error.type", error_type(exc))
    span.set_status(Status(StatusCode.ERROR, str(exc)))


def error_type(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"



# -- captured HTTP headers -----------------------------------------------------------------------
CAPTURE_HEADERS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
REDACTED_HEADER = "[REDACTED]"


@functools.cache
def _header_names(variable: str) -> re.Pattern[str] | None:
    """A comma-separated list of header names, each a case-insensitive regular expression
    (a name that is not a valid expression is taken literally)."""
    names = [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]
    if not names:
        return None
    alternatives = []
    for name in names:
        try:
            re.compile(name)
        except re.error:
            name = re.escape(name)
        alternatives.append(f"(?:{name})")
    return re.compile("|".join(alternatives), re.IGNORECASE)


@functools.cache
def _captured(side: str, direction: str) -> re.Pattern[str] | None:
    return _header_names(f"{CAPTURE_HEADERS}{side.upper()}_{direction.upper()}")


def captures_headers(side: str, direction: str) -> bool:
    """Whether OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_{SIDE}_{DIRECTION} asks for any."""
    return _captured(side, direction) is not None


def header_attributes(side: str, direction: str,
                      headers: Iterable[tuple[Any, Any]]) -> dict[str, list[str]]:
    """`http.{direction}.header.<name>` for the headers that
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_{SIDE}_{DIRECTION} names: none unless asked, as
    headers carry credentials; values of the headers ..._SANITIZE_FIELDS names are redacted.

    `side` is "client" or "server", `direction` "request" or "response"; `headers` yields
    (name, value) pairs, a repeated header once per value, and is read only when capturing.
    """
    wanted = _captured(side, direction)
    if wanted is None:
        return {}
    sanitize = _header_names(CAPTURE_HEADERS + "SANITIZE_FIELDS")
    attributes: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        name = _text(raw_name).lower()
        if wanted.fullmatch(name):
            value = (REDACTED_HEADER if sanitize is not None and sanitize.fullmatch(name)
                     else _text(raw_value))
            attributes.setdefault(f"http.{direction}.header.{name}", []).append(value)
    return attributes


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


# -- HTTP servers --------------------------------------------------------------------------------
_SERVER_METRIC_ATTRIBUTES = ("http.request.method", "url.scheme", "network.protocol.version",
                             "http.route", "http.response.status_code", "error.type")
Headers = Mapping[str, list[str]]
"""A request's headers as `ServerCall` and the propagators read them: every value, by
lowercase name."""


class _HeadersGetter(Getter[Headers]):
    """The propagators' view of `Headers`, whose values are lists already (the default getter
    tests each value's type and copies it)."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        return carrier.get(key)

    def keys(self, carrier: Headers) -> list[str]:
        return list(carrier)


_HEADERS_GETTER = _HeadersGetter()


@functools.cache
def _propagate() -> ModuleType:
    """opentelemetry.propagate, imported by the first request (4 ms) rather than with the hooks;
    an import statement would cost every request more than this cached call."""
    from opentelemetry import propagate

    return propagate


def headers_by_name(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """`Headers` from (name, value) pairs, a repeated header once per value."""
    headers: dict[str, list[str]] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), []).append(value)
    return headers


class ServerCall:
    """One incoming HTTP request: its SERVER span and its duration measurement.

    Every server hook (the WSGI and ASGI middlewares, aiohttp) describes its request through
    this one class, so all report the same attributes the same way. Its methods never raise:
    a failure is reported once and the request goes on.
    """

    __slots__ = ("attributes", "error", "finished", "library", "span", "started")

    def __init__(self, library: str, method: str, headers: Headers, *, scheme: str, path: str,
                 query: str, client: str | None, protocol: str | None,
                 server: tuple[str, int | None] | None = None) -> None:
        """Start the span: `server` is the listening address, used when the request has no
        Host header."""
        attributes: dict[str, Any] = method_attributes(method)
        attributes["url.scheme"] = scheme
        attributes["url.path"] = path or "/"
        if query:
            attributes["url.query"] = redact_query(query)
        host = headers.get("host")
        attributes.update(_local_address(host[0] if host else None, server, scheme))
        if client:
            attributes["client.address"] = client
        agent = headers.get("user-agent")
        if agent:
            attributes["user_agent.original"] = agent[0]
        if protocol:
            attributes["network.protocol.version"] = protocol
        if captures_headers("server", "request"):
            attributes.update(header_attributes(
                "server", "request", ((name, value) for name, values in headers.items()
                                      for value in values)))
        self.library = library
        self.attributes = attributes
        self.error: BaseException | None = None
        self.finished = False
        self.span = tracer(library).start_span(
            self._method_name(), context=_propagate().extract(headers, getter=_HEADERS_GETTER),
            kind=trace.SpanKind.SERVER, attributes=attributes)
        self.started = time.perf_counter()

    @classmethod
    def start(cls, library: str, method: str, headers: Headers,
              **request: Any) -> ServerCall | None:
        """A new call, or None (reported once) when the request cannot be described."""
        try:
            return cls(library, method, headers, **request)
        except Exception:
            report.hook_failed(f"{library}: server span start")
            return None

    def _method_name(self) -> str:
        return ("HTTP" if "http.request.method_original" in self.attributes
                else self.attributes["http.request.method"])

    def activate(self) -> Token[context.Context]:
        """Make the span current; pass the token to `opentelemetry.context.detach`."""
        return context.attach(trace.set_span_in_context(self.span))

    def set_route(self, route: str) -> None:
        """The matched route template: the span becomes `{method} {route}`."""
        self.attributes["http.route"] = route
        self.span.set_attribute("http.route", route)
        self.span.update_name(f"{self._method_name()} {route}")

    def respond(self, status: int, headers: Iterable[tuple[Any, Any]] = ()) -> None:
        """The response status and headers, as the app starts its response."""
        try:
            self.attributes["http.response.status_code"] = status
            self.span.set_attribute("http.response.status_code", status)
            if captures_headers("server", "response"):
                self.span.set_attributes(header_attributes("server", "response", headers))
        except Exception:
            report.hook_failed(f"{self.library}: server response")

    def finish(self, exc: BaseException | None = None) -> None:
        """End the span and record the duration, once; `exc` (or `error`) failed the request."""
        if self.finished:
            return
        self.finished = True
        try:
            self._finish(exc or self.error)
        except Exception:
            report.hook_failed(f"{self.library}: server span end")

    def _finish(self, exc: BaseException | None) -> None:
        status = self.attributes.get("http.response.status_code")
        if exc is not None:
            record_error(self.span, exc)
            self.attributes["error.type"] = error_type(exc)
        elif isinstance(status, int) and status >= 500:
            self.attributes["error.type"] = str(status)
            self.span.set_attribute("error.type", str(status))
            self.span.set_status(trace.Status(trace.StatusCode.ERROR))
        self.span.end()
        duration_histogram(self.library, "http.server.request.duration",
                           "Duration of HTTP server requests.").record(
            time.perf_counter() - self.started,
            {k: self.attributes[k] for k in _SERVER_METRIC_ATTRIBUTES if k in self.attributes})


def _local_address(host: str | None, server: tuple[str, int | None] | None,
                   scheme: str) -> dict[str, Any]:
    """server.address/port from the Host header (default port of the scheme), else the
    listening address."""
    address: str | None = None
    port: int | None = None
    host = host or ""
    name, colon, number = host.partition(":")
    if name and "[" not in host and "@" not in host and (
            not colon or (number.isdigit() and int(number) <= 65535)):
        address = name.lower()  # `host` or `host:port`, as nearly every request has it
        port = int(number) if number else {"http": 80, "https": 443}.get(scheme)
    elif host:
        try:
            parts = urlsplit("//" + host)
            address, port = parts.hostname, parts.port
        except ValueError:
            address = None
        if address and port is None:
            port = {"http": 80, "https": 443}.get(scheme)
    elif server is not None:
        address, port = server
    attributes: dict[str, Any] = {}
    if address:
        attributes["server.address"] = address
        if port:
            attributes["server.port"] = port
    return attributes
