"""psycopg (3): every cursor traces its statements, wherever its connection was made.

psycopg's cursor classes are plain Python, so on import the hook wraps their `execute` and
`executemany` in place: connections made anywhere (psycopg.connect, pools, SQLAlchemy) and
every cursor_factory/row_factory keep their own classes and are all covered.
"""

from __future__ import annotations

from types import ModuleType

from .. import dbapi

LIBRARY = "psycopg"
DRIVER = dbapi.Driver(LIBRARY, "postgresql", dbapi.postgresql_attributes)
CURSORS = ("Cursor", "AsyncCursor", "ServerCursor", "AsyncServerCursor")
"""The classes that define execute/executemany; the others (ClientCursor, RawCursor...)
inherit them."""


def instrument_cursors(module: ModuleType) -> None:
    """After `import psycopg`: its cursor classes trace their statements."""
    for name in CURSORS:
        cursor = getattr(module, name, None)
        if isinstance(cursor, type):
            for method in dbapi.QUERY_METHODS:
                dbapi.patch_method(cursor, method, DRIVER.describe(method), LIBRARY)
