"""psycopg2: connections made by psycopg2 itself (here, its pool) trace their statements.

Tested at the newest release: psycopg2-binary 2.9.13, PostgreSQL on 5432.
"""

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

from apps import AppsEnv, require_service
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

JOBS = '''
import psycopg2
import psycopg2.extras
import psycopg2.pool

from .support import DSN, SECRET, failing


def psycopg2_job():
    pool = psycopg2.pool.SimpleConnectionPool(1, 1, DSN)
    conn = pool.getconn()
    assert isinstance(conn, psycopg2.extensions.connection)
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        assert isinstance(cursor, psycopg2.extras.RealDictCursor)
        cursor.execute("CREATE TEMP TABLE items (name text, price int)")
        cursor.executemany("INSERT INTO items VALUES (%s, %s)", [("tea", 3), (SECRET, 4)])
        cursor.execute("SELECT price FROM items WHERE name = %(name)s", {"name": SECRET})
        assert cursor.fetchall() == [{"price": 4}]
        failing(cursor.execute, "SELECT %s::int", (SECRET,))
    conn.rollback()
    with conn.cursor() as cursor:  # the default cursor class
        cursor.execute("SELECT count(*) FROM pg_class")
        assert type(cursor).__name__ == "cursor"
    pool.putconn(conn)
    pool.closeall()
'''


@pytest.fixture(scope="module")
def pg2app(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require("psycopg2-binary==2.9.13")
    return build_app(apps_env, tmp_path_factory, "pg2app", JOBS, ("psycopg2-binary",))


def test_psycopg2_statements_through_a_pool(pg2app: AppsEnv, receiver: OtlpReceiver,
                                            tmp_path: Path):
    require_service("PostgreSQL", 5432)
    parent, spans = run_job(pg2app, receiver, tmp_path, "pg2app", "psycopg2_job")
    assert_children(parent, spans)
    assert {s.scope for s in spans} == {"hatch_otel.psycopg2"}
    assert [s.name for s in spans] == ["CREATE items", "BATCH INSERT items", "SELECT items",
                                       "SELECT", "SELECT pg_class"]
    _create, insert, select, failed, _count = spans
    assert select.attributes == {
        "db.system.name": "postgresql", "db.namespace": "test", "server.address": "127.0.0.1",
        "server.port": 5432, "db.operation.name": "SELECT", "db.collection.name": "items",
        "db.query.text": "SELECT price FROM items WHERE name = %(name)s"}
    assert insert.attributes["db.operation.batch.size"] == 2
    assert_failed(failed, "psycopg2.errors.InvalidTextRepresentation", "22P02")
    points = duration_points(receiver, "psycopg2")
    assert any(p.get("error.type") == "psycopg2.errors.InvalidTextRepresentation"
               and p.get("db.response.status_code") == "22P02" for p in points)
    assert_secret_kept(receiver)
