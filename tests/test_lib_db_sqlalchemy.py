"""SQLAlchemy: one span per statement of every engine, over drivers that are traced themselves.

The app uses psycopg and sqlite3 directly too, so both driver hooks are active underneath:
SQLAlchemy's span must be the only one for each statement it sends.

Tested at the newest releases: SQLAlchemy 2.1.9 over psycopg 3.3.9 and sqlite3, PostgreSQL on
5432.
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
import sqlite3

import psycopg
import sqlalchemy
from sqlalchemy import text

from .support import DSN, SECRET, failing

POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def sqlalchemy_job(path):
    with psycopg.connect(DSN) as conn:  # the driver alone: its own span
        conn.execute("SELECT 1 AS direct")
    engines = (sqlalchemy.create_engine(POSTGRESQL),
               sqlalchemy.create_engine("sqlite://", creator=lambda: sqlite3.connect(path)))
    for engine in engines:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMP TABLE orders (name varchar(40), qty int)"))
            conn.execute(text("INSERT INTO orders VALUES (:name, :qty)"),
                         [{"name": "tea", "qty": 3}, {"name": SECRET, "qty": 4}])
            found = conn.execute(text("SELECT qty FROM orders WHERE name = :name"),
                                 {"name": SECRET}).scalar_one()
            assert found == 4
        with engine.connect() as conn:
            failing(conn.execute, text("SELECT * FROM no_such_orders WHERE name = :name"),
                    {"name": SECRET})
        engine.dispose()
'''


@pytest.fixture(scope="module")
def ormapp(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require("SQLAlchemy==2.1.9", "psycopg[binary]==3.3.9")
    return build_app(apps_env, tmp_path_factory, "ormapp", JOBS,
                     ("sqlalchemy", "psycopg[binary]"))


def test_sqlalchemy_gives_one_span_per_statement_over_traced_drivers(
        ormapp: AppsEnv, receiver: OtlpReceiver, tmp_path: Path):
    require_service("PostgreSQL", 5432)
    parent, spans = run_job(ormapp, receiver, tmp_path, "ormapp", "sqlalchemy_job",
                            repr(str(tmp_path / "orders.db")))
    assert_children(parent, spans)
    statements = [(s.attributes["db.system.name"], s.attributes["db.query.text"]) for s in spans]
    assert len(statements) == len(set(statements)), "a statement was traced twice"
    assert next(s.name for s in spans if s.scope == "hatch_otel.psycopg") == "SELECT"
    ours = [s for s in spans if s.scope == "hatch_otel.sqlalchemy"]
    assert [(s.name, s.attributes["db.system.name"]) for s in ours
            if "orders" in str(s.attributes["db.query.text"])] == [
        ("CREATE orders", "postgresql"), ("BATCH INSERT orders", "postgresql"),
        ("SELECT orders", "postgresql"), ("SELECT no_such_orders", "postgresql"),
        ("CREATE orders", "sqlite"), ("BATCH INSERT orders", "sqlite"),
        ("SELECT orders", "sqlite"), ("SELECT no_such_orders", "sqlite")]
    # Under SQLAlchemy the drivers trace only what its dialects send past the engine (set-up).
    assert not any("orders" in str(s.attributes["db.query.text"]) for s in spans
                   if s.scope != "hatch_otel.sqlalchemy")
    named = {(s.name, s.attributes["db.system.name"]): s for s in ours}
    assert named["SELECT orders", "postgresql"].attributes == {
        "db.system.name": "postgresql", "db.namespace": "test", "server.address": "127.0.0.1",
        "server.port": 5432, "db.operation.name": "SELECT", "db.collection.name": "orders",
        "db.query.text": "SELECT qty FROM orders WHERE name = %(name)s"}
    assert named["SELECT orders", "sqlite"].attributes["db.query.text"] == (
        "SELECT qty FROM orders WHERE name = ?")
    assert named["BATCH INSERT orders", "sqlite"].attributes["db.operation.batch.size"] == 2
    assert_failed(named["SELECT no_such_orders", "postgresql"],
                  "psycopg.errors.UndefinedTable", "42P01")
    assert_failed(named["SELECT no_such_orders", "sqlite"],
                  "sqlite3.OperationalError", "SQLITE_ERROR")
    points = duration_points(receiver, "sqlalchemy")
    assert {p["db.system.name"] for p in points} == {"postgresql", "sqlite"}
    assert {"db.system.name": "postgresql", "db.namespace": "test",
            "server.address": "127.0.0.1", "server.port": 5432,
            "db.operation.name": "SELECT", "db.collection.name": "no_such_orders",
            "error.type": "psycopg.errors.UndefinedTable",
            "db.response.status_code": "42P01"} in points
    assert_secret_kept(receiver)
