"""sqlite3: connections opened at a woven `sqlite3.connect(...)` trace every statement.

sqlite3's classes are C types, so nothing is patched in place: the hook passes a `factory`, a
subclass of the connection class asked for, whose cursors are traced subclasses of the cursor
classes asked for (`dbapi.cursor_class`). isinstance checks still pass, and the tracing itself
is the DB-API code the PostgreSQL drivers share.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from typing import Any

from .. import dbapi
from ..context import HookContext

LIBRARY = "sqlite3"
FACTORY_POSITION = 5
"""sqlite3.connect(database, timeout, detect_types, isolation_level, check_same_thread, factory)"""


def _connection_attributes(connection: Any) -> dict[str, Any]:
    namespace = getattr(connection, "hatch_otel_namespace", "")
    return {"db.namespace": namespace} if namespace else {}


DRIVER = dbapi.Driver(LIBRARY, "sqlite", _connection_attributes)


def trace_connection(ctx: HookContext) -> None:
    """Before `sqlite3.connect(...)`: ask for a traced subclass of the connection class."""
    if len(ctx.args) > FACTORY_POSITION:  # factory given by position: leave the call as written
        return
    factory = ctx.kwargs.get("factory", sqlite3.Connection)
    if isinstance(factory, type) and issubclass(factory, sqlite3.Connection):
        ctx.kwargs["factory"] = _traced_connection(factory)


def _namespace(database: Any) -> str:
    """db.namespace: the database file (or `:memory:`) as the application named it."""
    try:
        return os.fsdecode(database)
    except TypeError:
        return ""


@functools.cache
def _traced_connection(base: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    if getattr(base, "hatch_otel_instrumented", False):
        return base

    class TracedConnection(base):  # type: ignore[valid-type, misc]
        __slots__ = ("hatch_otel_namespace",)
        hatch_otel_instrumented = True

        def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(database, *args, **kwargs)
            self.hatch_otel_namespace = _namespace(database)

        def cursor(self, factory: Any = sqlite3.Cursor) -> Any:
            return super().cursor(dbapi.cursor_class(DRIVER, factory))

        # The C shortcuts make a plain cursor without calling `cursor()`.
        def execute(self, *args: Any) -> Any:
            return self.cursor().execute(*args)

        def executemany(self, *args: Any) -> Any:
            return self.cursor().executemany(*args)

        def executescript(self, *args: Any) -> Any:
            return self.cursor().executescript(*args)

    TracedConnection.__name__ = TracedConnection.__qualname__ = base.__name__
    TracedConnection.__module__ = base.__module__
    return TracedConnection
