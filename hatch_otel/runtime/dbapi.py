"""Database client operations, and the DB-API 2.0 statement tracing the SQL drivers share.

`Operation` is the one place a database span is opened (sqlite3, psycopg2, psycopg, SQLAlchemy,
redis): a CLIENT span, inner database layers suppressed while the operation runs (so SQLAlchemy
over a traced driver still gives one span per statement), the error, and the
db.client.operation.duration histogram. Error messages never leave the process: databases echo
values in them (`invalid input syntax for type integer: "..."`), so the exception event carries
the type, the status code and the stack, not the message.

DB-API drivers reach it two ways. Those whose cursors are C types (sqlite3, psycopg2) hand out
traced subclasses of the cursor classes the application asks for (`cursor_class`), so
isinstance checks still pass; pure-Python drivers (psycopg) get their cursor methods wrapped in
place (`patch_method`), so every reference, however early it was taken, sees the change.
"""

from __future__ import annotations

import functools
import inspect
import time
import traceback
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from . import report, semconv

StatusOf = Callable[[BaseException], "str | None"]
Describe = Callable[[Any, tuple[Any, ...], dict[str, Any]], "Operation | None"]
"""What a traced method runs in: `describe(self, args, kwargs)`; None runs it untraced."""

QUERY_METHODS = ("execute", "executemany", "executescript")
_BATCH_METHOD = "executemany"
_BATCH_KEYWORDS = ("params_seq", "vars_list", "seq_of_parameters")
"""How DB-API drivers name executemany's sequence of parameter sets, when passed by keyword."""
_QUERY_KEYWORDS = ("query", "sql", "operation")
_STATUS_ATTRIBUTES = ("sqlstate", "pgcode", "sqlite_errorname")
_NOT_MEASURED = frozenset({"db.query.text", "db.operation.batch.size"})
"""Span attributes the duration histogram leaves out (high cardinality, not in the convention)."""


class Operation:
    """One database client operation, used as `with`: its span, its error, its duration."""

    __slots__ = ("_suppression", "attributes", "library", "name", "span", "started", "status_of")

    def __init__(self, library: str, name: str, attributes: dict[str, Any],
                 status_of: StatusOf | None = None) -> None:
        self.library = library
        self.name = name
        self.attributes = attributes
        self.status_of = status_of
        self.span: Any = None
        self.started = 0.0

    def __enter__(self) -> Operation:
        try:
            self.span = semconv.tracer(self.library).start_span(
                self.name, kind=SpanKind.CLIENT, attributes=self.attributes)
        except Exception:
            report.hook_failed(f"{self.library}: starting a database span")
        self._suppression = semconv.suppressing("db")
        self._suppression.__enter__()
        self.started = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        duration = time.perf_counter() - self.started
        self._suppression.__exit__(None, None, None)
        if self.span is None:
            return
        try:
            measured = {k: v for k, v in self.attributes.items() if k not in _NOT_MEASURED}
            try:
                if error is not None:
                    measured.update(self._record_error(error))
            finally:
                self.span.end()
            semconv.duration_histogram(
                self.library, "db.client.operation.duration",
                "Duration of database client operations.").record(duration, measured)
        except Exception:
            report.hook_failed(f"{self.library}: ending a database span")

    def _record_error(self, error: BaseException) -> dict[str, str]:
        """error.type, db.response.status_code, ERROR status and an exception event, all
        without the error's message; returns the attributes the histogram gets too."""
        kind = semconv.error_type(error)
        code = self.status_of(error) if self.status_of is not None else None
        recorded = {"error.type": kind}
        if code:
            recorded["db.response.status_code"] = code
        self.span.set_attributes(recorded)
        self.span.record_exception(error, attributes={
            "exception.message": code or kind,
            "exception.stacktrace": "Traceback (most recent call last):\n"
                                    + "".join(traceback.format_tb(error.__traceback__)) + kind,
        })
        self.span.set_status(Status(StatusCode.ERROR, code))
        return recorded


def sql_statement(library: str, system: str, statement: str | None,
                  attributes: Mapping[str, Any], batch_size: int | None = None) -> Operation:
    """The operation of one SQL statement: named `{operation} {table}`, literals in
    db.query.text replaced by `?`. `batch_size` is executemany's count of parameter sets."""
    described: dict[str, Any] = {"db.system.name": system, **attributes}
    operation = collection = None
    if statement:
        described["db.query.text"] = semconv.sanitize_sql(statement)
        operation = semconv.sql_operation(statement)
        collection = semconv.sql_collection(statement)
    if batch_size is not None and batch_size != 1:  # one parameter set is a single operation
        operation = f"BATCH {operation}" if operation else "BATCH"
        described["db.operation.batch.size"] = batch_size
    if operation:
        described["db.operation.name"] = operation
    if collection:
        described["db.collection.name"] = collection
    return Operation(library, semconv.db_span_name(operation, collection, system), described,
                     sql_status)


def sql_status(error: BaseException) -> str | None:
    """db.response.status_code: the SQLSTATE of psycopg and psycopg2 errors, SQLite's result
    code name."""
    for name in _STATUS_ATTRIBUTES:
        value = getattr(error, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def postgresql_attributes(connection: Any) -> dict[str, Any]:
    """db.namespace and server.* of a psycopg or psycopg2 connection, from libpq, without a
    round trip; nothing for a closed connection (the driver raises its own error)."""
    try:
        info = connection.info
        found = {"db.namespace": info.dbname, "server.address": info.host,
                 "server.port": info.port}
    except Exception:
        return {}
    return {key: value for key, value in found.items() if value}


# -- DB-API drivers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Driver:
    """A DB-API driver, as its hook describes it."""

    library: str
    """The instrumentation name: the tracer scope, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS."""
    system: str
    """db.system.name."""
    connection_attributes: Callable[[Any], dict[str, Any]]
    """db.namespace and server.* of one connection."""

    def describe(self, method: str) -> Describe:
        """How `cursor.<method>(query, ...)` is described as an operation."""
        batch = method == _BATCH_METHOD

        def statement(cursor: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Operation:
            query = args[0] if args else _first(kwargs, _QUERY_KEYWORDS)
            return sql_statement(self.library, self.system, query_text(query, cursor),
                                 self.connection_attributes(cursor.connection),
                                 _batch_size(args[1:], kwargs) if batch else None)

        return statement


def query_text(query: Any, cursor: Any) -> str | None:
    """The SQL of a query as drivers accept it: text, bytes, a psycopg `sql.Composable`, or a
    PEP 750 template (its interpolations become `?`)."""
    if isinstance(query, str):
        return query
    if isinstance(query, (bytes, bytearray, memoryview)):
        return bytes(query).decode("utf-8", "replace")
    try:
        if hasattr(query, "as_string"):
            text = query.as_string(cursor)
            return text if isinstance(text, str) else query_text(text, cursor)
        strings = getattr(query, "strings", None)
        if isinstance(strings, tuple) and all(isinstance(s, str) for s in strings):
            return "?".join(strings)
    except Exception:
        return None  # the driver rejects this query itself; the span goes without its text
    return None


def _first(kwargs: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((kwargs[name] for name in names if name in kwargs), None)


def _batch_size(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    parameter_sets = args[0] if args else _first(kwargs, _BATCH_KEYWORDS)
    return len(parameter_sets) if isinstance(parameter_sets, Sized) else None


def traced_method(method: Callable[..., Any], describe: Describe,
                  where: str) -> Callable[..., Any]:
    """`method` (sync or async) run inside the operation `describe` gives for each call;
    untraced when an outer layer already traces the operation or `describe` fails."""

    def begin(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Operation | None:
        if semconv.suppressed("db"):
            return None
        try:
            return describe(self, args, kwargs)
        except Exception:
            report.hook_failed(where)
            return None

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(method):
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            operation = begin(self, args, kwargs)
            if operation is None:
                return await method(self, *args, **kwargs)
            with operation:
                return await method(self, *args, **kwargs)

        wrapper = traced_async
    else:
        def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
            operation = begin(self, args, kwargs)
            if operation is None:
                return method(self, *args, **kwargs)
            with operation:
                return method(self, *args, **kwargs)

        wrapper = traced
    functools.update_wrapper(wrapper, method)
    wrapper.hatch_otel_instrumented = True  # type: ignore[union-attr]
    return wrapper


def patch_method(cls: type, name: str, describe: Describe, where: str) -> None:
    """Wrap `cls.<name>` in place, once, when `cls` itself defines it."""
    method = cls.__dict__.get(name)
    if callable(method) and not getattr(method, "hatch_otel_instrumented", False):
        setattr(cls, name, traced_method(method, describe, f"{where}: {name}"))


def cursor_class(driver: Driver, base: Any) -> Any:
    """A traced subclass of the cursor class `base`; `base` itself when it is not a class,
    is traced already, or cannot be subclassed (reported once)."""
    if not isinstance(base, type) or getattr(base, "hatch_otel_instrumented", False):
        return base
    try:
        return _cursor_class(driver, base)
    except Exception:
        report.hook_failed(f"{driver.library}: tracing cursor class {base.__qualname__}")
        return base


@functools.cache
def _cursor_class(driver: Driver, base: type) -> type:
    methods = {name: traced_method(getattr(base, name), driver.describe(name),
                                   f"{driver.library}: {name}")
               for name in QUERY_METHODS if hasattr(base, name)}
    return type(base.__name__, (base,), {
        "__slots__": (), "__module__": base.__module__, "__qualname__": base.__qualname__,
        "__doc__": base.__doc__, "hatch_otel_instrumented": True, **methods})
