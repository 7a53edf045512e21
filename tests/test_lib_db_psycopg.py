"""psycopg (3): the cursors of every connection trace their statements, sync and asyncio.

Tested at the newest release: psycopg 3.3.9 (with psycopg-binary), PostgreSQL on 5432.
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
import asyncio

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from .support import DSN, SECRET, failing


def psycopg_job():
    with psycopg.connect(DSN, row_factory=dict_row, cursor_factory=psycopg.ClientCursor) as conn:
        with conn.cursor() as cursor:
            assert type(cursor) is psycopg.ClientCursor
            cursor.execute("CREATE TEMP TABLE items (name text, price int)")
            cursor.executemany("INSERT INTO items VALUES (%s, %s)", [("tea", 3), (SECRET, 4)])
            cursor.execute("SELECT price FROM items WHERE name = %s", (SECRET,))
            assert cursor.fetchall() == [{"price": 4}]
            cursor.execute(sql.SQL("SELECT {} AS echo").format(sql.Literal(SECRET)))
            assert cursor.fetchall() == [{"echo": SECRET}]
        failing(conn.execute, "SELECT %s::int", (SECRET,))
    asyncio.run(psycopg_async())


async def psycopg_async():
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        async with conn.cursor() as cursor:
            await cursor.execute("SELECT %s::text AS echo", (SECRET,))
            assert await cursor.fetchone() == (SECRET,)
'''
SERVER = {"db.system.name": "postgresql", "db.namespace": "test",
          "server.address": "127.0.0.1", "server.port": 5432}


@pytest.fixture(scope="module")
def pgapp(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require("psycopg[binary]==3.3.9")
    return build_app(apps_env, tmp_path_factory, "pgapp", JOBS, ("psycopg[binary]",))


def test_psycopg_statements_sync_and_async(pgapp: AppsEnv, receiver: OtlpReceiver,
                                           tmp_path: Path):
    require_service("PostgreSQL", 5432)
    parent, spans = run_job(pgapp, receiver, tmp_path, "pgapp", "psycopg_job")
    assert_children(parent, spans)
    assert {s.scope for s in spans} == {"hatch_otel.psycopg"}
    assert [s.name for s in spans] == ["CREATE items", "BATCH INSERT items", "SELECT items",
                                       "SELECT", "SELECT", "SELECT"]
    _create, insert, select, composed, failed, asynchronous = spans
    assert select.attributes == {**SERVER, "db.operation.name": "SELECT",
                                 "db.collection.name": "items",
                                 "db.query.text": "SELECT price FROM items WHERE name = %s"}
    assert insert.attributes["db.operation.batch.size"] == 2
    assert composed.attributes["db.query.text"] == "SELECT ? AS echo"  # sql.Literal's text
    assert asynchronous.attributes["db.query.text"] == "SELECT %s::text AS echo"
    assert_failed(failed, "psycopg.errors.InvalidTextRepresentation", "22P02")
    points = duration_points(receiver, "psycopg")
    assert {**SERVER, "db.operation.name": "SELECT", "db.collection.name": "items"} in points
    assert {**SERVER, "db.operation.name": "SELECT", "db.response.status_code": "22P02",
            "error.type": "psycopg.errors.InvalidTextRepresentation"} in points
    assert_secret_kept(receiver)
