"""SQLAlchemy: one CLIENT span per statement an engine runs, wherever the engine was made.

On import the hook listens, for every Engine, to the dialect events that hand a statement to
the DB-API cursor (do_execute, do_executemany, do_execute_no_params). The listener runs the
dialect's own execution inside the span, and so inside semconv.suppressing("db"): a traced
driver underneath (psycopg, psycopg2, sqlite3) adds no second span. Engines made by
create_engine, by create_async_engine (its sync core) or by a library (Flask-SQLAlchemy) are
all covered, and the span names the driver's own exception, not SQLAlchemy's wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from types import ModuleType
from typing import Any

from .. import dbapi, report, semconv

LIBRARY = "sqlalchemy"
SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql",
           "mariadb": "mariadb", "mssql": "microsoft.sql_server", "oracle": "oracle.db"}
"""SQLAlchemy dialect name -> db.system.name; other dialects report `other_sql`."""
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306,
                 "microsoft.sql_server": 1433, "oracle.db": 1521}


def instrument_engines(module: ModuleType) -> None:
    """After `import sqlalchemy`: every engine's statements are traced."""
    engine = module.Engine
    if getattr(engine, "hatch_otel_instrumented", False):
        return
    module.event.listen(engine, "do_execute", _execute)
    module.event.listen(engine, "do_executemany", _executemany)
    module.event.listen(engine, "do_execute_no_params", _execute_no_params)
    engine.hatch_otel_instrumented = True


def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    return _run(context, statement, None,
                lambda dialect: dialect.do_execute(cursor, statement, parameters, context))


def _executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    return _run(context, statement,
                len(parameters) if isinstance(parameters, Sized) else None,
                lambda dialect: dialect.do_executemany(cursor, statement, parameters, context))


def _execute_no_params(cursor: Any, statement: str, context: Any) -> bool:
    return _run(context, statement, None,
                lambda dialect: dialect.do_execute_no_params(cursor, statement, context))


def _run(context: Any, statement: str, batch_size: int | None,
         execute: Callable[[Any], object]) -> bool:
    """Execute the statement inside its span: True tells SQLAlchemy it has been executed;
    False (no execution context, already traced, or a failure of ours) lets SQLAlchemy run it."""
    if context is None or semconv.suppressed("db"):
        return False
    try:
        dialect = context.dialect
        system = _system(dialect)
        operation = dbapi.sql_statement(LIBRARY, system, statement,
                                        _engine_attributes(context.engine.url, system),
                                        batch_size)
    except Exception:
        report.hook_failed(f"{LIBRARY}: statement attributes")
        return False
    with operation:
        execute(dialect)
    return True


def _system(dialect: Any) -> str:
    name = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
    return SYSTEMS.get(name, "other_sql")


def _engine_attributes(url: Any, system: str) -> dict[str, Any]:
    """db.namespace and server.* from the engine's URL (never its password)."""
    attributes: dict[str, Any] = {}
    if url.database:
        attributes["db.namespace"] = url.database
    if url.host:
        attributes["server.address"] = url.host
        port = url.port or DEFAULT_PORTS.get(system)
        if port:
            attributes["server.port"] = port
    return attributes
