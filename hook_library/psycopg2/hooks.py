"""psycopg2: every connection made through `psycopg2.connect` traces its statements.

psycopg2's classes are C types, so nothing can be patched on them in place. On import the hook
replaces the module's `_connect`, which `psycopg2.connect` looks up on every call, so callers
that took `connect` earlier (connection pools, SQLAlchemy, `from psycopg2 import connect`) are
covered too. It asks for a traced subclass of the connection class, whose cursors are traced
subclasses of the cursor class chosen (cursor_factory), so isinstance checks still pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import dbapi, report

LIBRARY = "psycopg2"
DRIVER = dbapi.Driver(LIBRARY, "postgresql", dbapi.postgresql_attributes)


def instrument_connect(module: ModuleType) -> None:
    """After `import psycopg2`: the connections it makes from now on are traced."""
    original: Callable[..., Any] = module._connect
    if getattr(original, "hatch_otel_instrumented", False):
        return
    extensions = module.extensions

    @functools.wraps(original)
    def _connect(*args: Any, **kwargs: Any) -> Any:
        if len(args) < 2:  # connection_factory given by keyword, or not at all
            factory = kwargs.get("connection_factory") or extensions.connection
            kwargs["connection_factory"] = _traced_factory(factory, extensions)
        return original(*args, **kwargs)

    _connect.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    module._connect = _connect  # type: ignore[attr-defined]


def _traced_factory(factory: Any, extensions: ModuleType) -> Any:
    """A traced subclass of a connection class; any other factory (a function) unchanged."""
    if not isinstance(factory, type) or not issubclass(factory, extensions.connection):
        return factory
    try:
        return _traced_connection(factory, extensions.connection, extensions.cursor)
    except Exception:
        report.hook_failed(f"{LIBRARY}: tracing connection class {factory.__qualname__}")
        return factory


@functools.cache
def _traced_connection(base: type, root: type, default_cursor: type) -> type:
    if getattr(base, "hatch_otel_instrumented", False):
        return base
    # A class that chooses its default cursor in Python (psycopg2.extras.DictConnection) keeps
    # that choice: only a cursor_factory given or set on the connection is traced there.
    default = default_cursor if base.cursor is root.cursor else None

    class TracedConnection(base):  # type: ignore[valid-type, misc]
        __slots__ = ()
        hatch_otel_instrumented = True

        def cursor(self, *args: Any, **kwargs: Any) -> Any:
            """cursor(name=None, cursor_factory=None, ...): the same, of a traced class."""
            if len(args) > 1:
                factory = args[1] or self.cursor_factory or default
                if factory is not None:
                    args = (args[0], dbapi.cursor_class(DRIVER, factory), *args[2:])
            else:
                factory = kwargs.get("cursor_factory") or self.cursor_factory or default
                if factory is not None:
                    kwargs["cursor_factory"] = dbapi.cursor_class(DRIVER, factory)
            return super().cursor(*args, **kwargs)

    TracedConnection.__name__ = TracedConnection.__qualname__ = base.__name__
    TracedConnection.__module__ = base.__module__
    return TracedConnection
