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
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context, metrics, trace

from . import report

SCOPE_PREFIX = "hatch_otel."
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


@functools.cache
def tracer(library: str) -> trace.Tracer:
    return trace.get_tracer(SCOPE_PREFIX + library)


@functools.cache
def duration_histogram(library: str, name: str, description: str) -> Any:
    meter = metrics.get_meter(SCOPE_PREFIX + library)
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
    raw = (os.environ.get(f"OTEL_PYTHON_{library.upper()}_EXCLUDED_URLS")
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
    r"[xX]'[0-9a-fA-F]*'|'(?:[^']|'')*'|(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"
    r"|\b(?:TRUE|FALSE|true|false)\b"
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



# -- HTTP clients --------------------------------------------------------------------------------
class ClientCall:
    """One outgoing HTTP request: its CLIENT span, the headers to send, its duration."""

    __slots__ = ("attributes", "library", "span", "started")

    def __init__(self, library: str, method: str, url: str) -> None:
        from opentelemetry.trace import SpanKind

        self.library = library
        self.attributes: dict[str, Any] = method_attributes(method)
        self.attributes.update(server_address(url))
        self.attributes["url.full"] = redact_url(url)
        name = "HTTP" if "http.request.method_original" in self.attributes else (
            self.attributes["http.request.method"])
        self.span = tracer(library).start_span(name, kind=SpanKind.CLIENT,
                                               attributes=self.attributes)
        self.started = time.perf_counter()

    def headers(self) -> dict[str, str]:
        """traceparent (and whatever OTEL_PROPAGATORS adds) for this request."""
        from opentelemetry import propagate

        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier

    def finish(self, status: int | None, exc: BaseException | None = None) -> None:
        from opentelemetry.trace import Status, StatusCode

        measured = {k: v for k, v in self.attributes.items()
                    if k in ("http.request.method", "server.address", "server.port")}
        if status is not None:
            self.span.set_attribute("http.response.status_code", status)
            measured["http.response.status_code"] = status
        if exc is not None and status is None:
            record_error(self.span, exc)
            measured["error.type"] = error_type(exc)
        elif status is not None and status >= 400:
            self.span.set_attribute("error.type", str(status))
            self.span.set_status(Status(StatusCode.ERROR))
            measured["error.type"] = str(status)
        self.span.end()
        duration_histogram(self.library, "http.client.request.duration",
                           "Duration of HTTP client requests.").record(
            time.perf_counter() - self.started, measured)
