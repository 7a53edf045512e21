"""The shared database runtime (hatch_otel/runtime/dbapi.py), in process: what the real-server
tests cannot provoke (its own failures, unusual query forms, nesting) and what must hold for
every driver (faithful classes, one span per operation, no error message exported)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from hatch_otel.runtime import dbapi, semconv
from inprocess import EXPORTER, Spans

DRIVER = dbapi.Driver("testdb", "sqlite", lambda connection: {"db.namespace": "shop"})


@pytest.fixture
def spans() -> Iterator[Spans]:
    EXPORTER.clear()
    yield Spans(EXPORTER)
    EXPORTER.clear()


class Cursor:
    """A pure-Python cursor, as psycopg's are; patched in place by the tests."""

    connection = object()

    def execute(self, query: Any, params: Any = None) -> str:
        return "ran"

    async def executemany(self, query: Any, params_seq: Any) -> str:
        await asyncio.sleep(0)
        return "ran many"


def patched_cursor() -> type[Cursor]:
    patched = type("Cursor", (Cursor,), {"execute": Cursor.execute,
                                         "executemany": Cursor.executemany})
    for name in ("execute", "executemany"):
        dbapi.patch_method(patched, name, DRIVER.describe(name), "testdb")
    return patched


def test_a_statement_gets_one_client_span_with_sanitized_text(spans: Spans):
    cursor = patched_cursor()()
    assert cursor.execute("SELECT * FROM items WHERE name = 'tea'", ("secret",)) == "ran"
    span = spans.one("SELECT items")
    assert span.kind.name == "CLIENT"
    assert "secret" not in span.to_json()
    assert dict(span.attributes or {}) == {
        "db.system.name": "sqlite", "db.namespace": "shop", "db.operation.name": "SELECT",
        "db.collection.name": "items", "db.query.text": "SELECT * FROM items WHERE name = ?"}


def test_patching_twice_wraps_once_and_keeps_coroutine_functions(spans: Spans):
    patched = patched_cursor()
    dbapi.patch_method(patched, "executemany", DRIVER.describe("executemany"), "testdb")
    assert inspect.iscoroutinefunction(patched.executemany)
    assert patched.executemany.__wrapped__ is Cursor.executemany
    result = asyncio.run(patched().executemany("INSERT INTO items VALUES (?)", [(1,), (2,)]))
    assert result == "ran many"
    [span] = spans()
    assert (span.name, span.attributes["db.operation.batch.size"]) == ("BATCH INSERT items", 2)


def test_an_inner_layer_adds_no_span_while_an_operation_runs(spans: Spans):
    cursor = patched_cursor()()
    with dbapi.sql_statement("outer", "postgresql", "SELECT 1", {}):
        cursor.execute("SELECT 2")
    assert [s.instrumentation_scope.name for s in spans()] == ["hatch_otel.outer"]
    assert not semconv.suppressed("db")


def test_errors_are_recorded_without_their_message(spans: Spans):
    error = sqlite3.OperationalError('invalid input "secret"')
    error.sqlite_errorname = "SQLITE_ERROR"
    with (pytest.raises(sqlite3.OperationalError) as raised,
          dbapi.sql_statement("testdb", "sqlite", "SELECT x FROM t", {})):
        raise error
    assert raised.value is error
    [span] = spans()
    assert span.status.status_code.name == "ERROR"
    assert "secret" not in repr(span.to_json())
    assert span.attributes["error.type"] == "sqlite3.OperationalError"
    assert span.attributes["db.response.status_code"] == "SQLITE_ERROR"
    [event] = span.events
    assert event.attributes["exception.message"] == "SQLITE_ERROR"
    assert event.attributes["exception.stacktrace"].startswith("Traceback")


def test_a_failure_of_ours_leaves_the_statement_running_untraced(
        spans: Spans, caplog: pytest.LogCaptureFixture):
    broken = dbapi.Driver("brokendb", "sqlite", lambda connection: 1 / 0)
    patched = type("Cursor", (Cursor,), {"execute": Cursor.execute})
    dbapi.patch_method(patched, "execute", broken.describe("execute"), "brokendb")
    with caplog.at_level(logging.WARNING, logger="hatch_otel"):
        assert patched().execute("SELECT 1") == "ran"
        assert patched().execute("SELECT 1") == "ran"
    assert spans() == []
    assert len(caplog.records) == 1  # reported once


@pytest.mark.parametrize(("query", "text"), [
    ("SELECT 1", "SELECT 1"),
    (b"SELECT 'x'", "SELECT 'x'"),
    (type("Composed", (), {"as_string": lambda self, context: "SELECT 'x'"})(), "SELECT 'x'"),
    (type("Template", (), {"strings": ("SELECT ", " FROM t")})(), "SELECT ? FROM t"),
    (object(), None),
])
def test_query_text_of_every_form_a_driver_accepts(query: Any, text: str | None):
    assert dbapi.query_text(query, None) == text


def test_cursor_classes_are_cached_faithful_subclasses(spans: Spans):
    traced = dbapi.cursor_class(DRIVER, sqlite3.Cursor)
    assert traced is dbapi.cursor_class(DRIVER, sqlite3.Cursor)
    assert dbapi.cursor_class(DRIVER, traced) is traced
    assert issubclass(traced, sqlite3.Cursor)
    assert (traced.__name__, traced.__module__) == ("Cursor", "sqlite3")
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor(traced)
    with pytest.raises(AttributeError):
        cursor.anything = 1  # no __dict__, like the C cursor
    assert cursor.execute("SELECT 1").fetchall() == [(1,)]
    assert [s.name for s in spans()] == ["SELECT"]
    factory = lambda connection: sqlite3.Cursor(connection)  # noqa: E731
    assert dbapi.cursor_class(DRIVER, factory) is factory
