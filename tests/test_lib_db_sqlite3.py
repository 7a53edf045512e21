"""sqlite3: the project's sqlite3.connect calls give connections that trace every statement."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lib_db_support import (
    assert_children,
    assert_failed,
    assert_secret_kept,
    build_app,
    duration_points,
    run_job,
)

from apps import AppsEnv
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

JOBS = '''
import sqlite3

from .support import SECRET, failing


def sqlite_job(path):
    conn = sqlite3.connect(path)
    assert isinstance(conn, sqlite3.Connection) and type(conn).__name__ == "Connection"
    cursor = conn.cursor()
    assert isinstance(cursor, sqlite3.Cursor) and type(cursor).__name__ == "Cursor"
    conn.execute("CREATE TABLE items (name TEXT, price INTEGER)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", [("tea", 3), (SECRET, 4)])
    cursor.execute("SELECT price FROM items WHERE name = ? AND price > 2", (SECRET,))
    assert cursor.fetchall() == [(4,)]
    conn.executescript("UPDATE items SET price = 5 WHERE name = 'tea';")
    failing(conn.execute, "SELECT * FROM missing WHERE name = ?", (SECRET,))
    conn.close()
'''


@pytest.fixture(scope="module")
def liteapp(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    return build_app(apps_env, tmp_path_factory, "liteapp", JOBS, ())


def test_sqlite3_statements(liteapp: AppsEnv, receiver: OtlpReceiver, tmp_path: Path):
    database = tmp_path / "shop.db"
    parent, spans = run_job(liteapp, receiver, tmp_path, "liteapp", "sqlite_job",
                            repr(str(database)))
    assert_children(parent, spans)
    assert {s.scope for s in spans} == {"hatch_otel.sqlite3"}
    assert [s.name for s in spans] == ["CREATE items", "BATCH INSERT items", "SELECT items",
                                       "UPDATE items", "SELECT missing"]
    _create, insert, select, script, missing = spans
    assert select.attributes == {
        "db.system.name": "sqlite", "db.namespace": str(database),
        "db.operation.name": "SELECT", "db.collection.name": "items",
        "db.query.text": "SELECT price FROM items WHERE name = ? AND price > ?"}
    assert insert.attributes["db.operation.name"] == "BATCH INSERT"
    assert insert.attributes["db.operation.batch.size"] == 2
    assert script.attributes["db.query.text"] == "UPDATE items SET price = ? WHERE name = ?;"
    assert_failed(missing, "sqlite3.OperationalError", "SQLITE_ERROR")
    points = duration_points(receiver, "sqlite3")
    assert {"db.system.name": "sqlite", "db.namespace": str(database),
            "db.operation.name": "SELECT", "db.collection.name": "items"} in points
    assert {"db.system.name": "sqlite", "db.namespace": str(database),
            "db.operation.name": "SELECT", "db.collection.name": "missing",
            "error.type": "sqlite3.OperationalError",
            "db.response.status_code": "SQLITE_ERROR"} in points
    assert_secret_kept(receiver)
