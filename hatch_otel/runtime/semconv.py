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
from collections.abc import Iterable, Iterator
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


def header_attributes(side: str, direction: str,
                      headers: Iterable[tuple[Any, Any]]) -> dict[str, list[str]]:
    """`http.{direction}.header.<name>` for the headers that
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_{SIDE}_{DIRECTION} names: none unless asked, as
    headers carry credentials; values of the headers ..._SANITIZE_FIELDS names are redacted.

    `side` is "client" or "server", `direction` "request" or "response"; `headers` yields
    (name, value) pairs, a repeated header once per value, and is read only when capturing.
    """
    wanted = _header_names(f"{CAPTURE_HEADERS}{side.upper()}_{direction.upper()}")
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

