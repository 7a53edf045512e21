"""sqlite3: connections opened at a woven `sqlite3.connect(...)` trace every statement.

The hook passes a `factory` (a subclass of the one asked for), so the connection is still a
`sqlite3.Connection` and its cursors still `sqlite3.Cursor`s.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from .. import semconv
from ..context import HookContext

LIBRARY = "sqlite3"


def trace_connection(ctx: HookContext) -> None:
    """Before `sqlite3.connect(database, ..., factory=...)`."""
    factory = ctx.kwargs.get("factory", sqlite3.Connection)
    if len(ctx.args) > 4:  # factory given by position: leave the call as written
        return
    if isinstance(factory, type) and issubclass(factory, sqlite3.Connection):
        ctx.kwargs["factory"] = _traced_connection(factory)


@functools.cache
def _traced_connection(base: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    class TracedConnection(base):  # type: ignore[valid-type, misc]
        hatch_otel_instrumented = True

        def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(database, *args, **kwargs)
            self.hatch_otel_namespace = os.fsdecode(database) if database else ""

        def cursor(self, factory: Any = sqlite3.Cursor) -> sqlite3.Cursor:
            return super().cursor(_traced_cursor(factory))

        def execute(self, *args: Any) -> sqlite3.Cursor:
            return self.cursor().execute(*args)

        def executemany(self, *args: Any) -> sqlite3.Cursor:
            return self.cursor().executemany(*args)

        def executescript(self, *args: Any) -> sqlite3.Cursor:
            return self.cursor().executescript(*args)

    TracedConnection.__name__ = TracedConnection.__qualname__ = base.__name__
    return TracedConnection


@functools.cache
def _traced_cursor(base: type[sqlite3.Cursor]) -> type[sqlite3.Cursor]:
    class TracedCursor(base):  # type: ignore[valid-type, misc]
        execute = _statement(base.execute)
        executemany = _statement(base.executemany)
        executescript = _statement(base.executescript)

    TracedCursor.__name__ = TracedCursor.__qualname__ = base.__name__
    return TracedCursor


def _statement(method: Callable[..., Any]) -> Callable[..., Any]:
    def traced(self: sqlite3.Cursor, sql: str, *args: Any) -> Any:
        operation = semconv.sql_operation(sql)
        collection = semconv.sql_collection(sql)
        attributes: dict[str, Any] = {"db.system.name": "sqlite",
                                      "db.query.text": semconv.sanitize_sql(sql)}
        namespace = getattr(self.connection, "hatch_otel_namespace", "")
        if namespace:
            attributes["db.namespace"] = namespace
        if operation:
            attributes["db.operation.name"] = operation
        if collection:
            attributes["db.collection.name"] = collection
        span = semconv.tracer(LIBRARY).start_span(
            semconv.db_span_name(operation, collection, "sqlite"), kind=SpanKind.CLIENT,
            attributes=attributes)
        started = time.perf_counter()
        measured = {k: v for k, v in attributes.items() if k != "db.query.text"}
        try:
            return method(self, sql, *args)
        except BaseException as exc:
            semconv.record_error(span, exc)
            measured["error.type"] = type(exc).__qualname__
            raise
        finally:
            span.end()
            semconv.duration_histogram(LIBRARY, "db.client.operation.duration",
                                       "Duration of database client operations.").record(
                time.perf_counter() - started, measured)

    traced.__name__ = method.__name__
    return traced
