"""The runtime's convention helpers: nothing sensitive leaves the process by default."""

from __future__ import annotations

import pytest

from hatch_otel.runtime import semconv


@pytest.mark.parametrize(("statement", "text"), [
    ("SELECT * FROM t WHERE name = 'O''Brien' AND age > 42",
     "SELECT * FROM t WHERE name = ? AND age > ?"),
    ("SELECT $$secret$$, $tag$also secret$tag$ FROM t WHERE a = $1",
     "SELECT ?, ? FROM t WHERE a = $1"),
    ("INSERT INTO t1 (x, y) VALUES (1.5e3, X'ff')", "INSERT INTO t1 (x, y) VALUES (?, ?)"),
    ("UPDATE t SET flag = TRUE -- why\n WHERE id = 7 /* note */",
     "UPDATE t SET flag = ? WHERE id = ?"),
    ("SELECT E'it\\'s' FROM t", "SELECT ? FROM t"),
])
def test_sql_literals_never_leave_the_process(statement: str, text: str) -> None:
    assert semconv.sanitize_sql(statement) == text


def test_sql_operation_and_collection() -> None:
    assert semconv.sql_operation("  select 1") == "SELECT"
    assert semconv.sql_collection('INSERT INTO "Orders" (id) VALUES (?)') == "Orders"
    assert semconv.sql_collection("CREATE TABLE IF NOT EXISTS greetings (text TEXT)") == "greetings"
    assert semconv.db_span_name("SELECT", "orders", "postgresql") == "SELECT orders"
    assert semconv.db_span_name(None, None, "postgresql") == "postgresql"


def test_urls_lose_credentials_and_signing_values() -> None:
    assert semconv.redact_url("https://bob:pw@example.com:8443/p?sig=abc&q=1#f") == (
        "https://REDACTED:REDACTED@example.com:8443/p?sig=REDACTED&q=1#f")
    assert semconv.redact_query("X-Amz-Signature=s&page=2&api_key=k") == (
        "X-Amz-Signature=REDACTED&page=2&api_key=REDACTED")
    assert semconv.server_address("https://example.com/x") == {
        "server.address": "example.com", "server.port": 443}


def test_unknown_methods_fold_into_other() -> None:
    assert semconv.method_attributes("get") == {"http.request.method": "GET"}
    assert semconv.method_attributes("BREW") == {"http.request.method": "_OTHER",
                                                 "http.request.method_original": "BREW"}


@pytest.mark.parametrize(("host", "expected"), [
    ("localhost", {"server.address": "localhost", "server.port": 80}),
    ("Shop.Example:8443", {"server.address": "shop.example", "server.port": 8443}),
    ("127.0.0.1:5000", {"server.address": "127.0.0.1", "server.port": 5000}),
    ("[::1]:8000", {"server.address": "::1", "server.port": 8000}),
    ("shop:", {"server.address": "shop", "server.port": 80}),
    ("shop:99999", {}),
    ("shop:http", {}),
    (None, {"server.address": "10.0.0.2", "server.port": 9000}),
])
def test_the_server_address_comes_from_the_host_header(host: str | None,
                                                       expected: dict[str, object]) -> None:
    """The Host header as sent (`host`, `host:port`, IPv6, malformed); without one, the
    listening address."""
    assert semconv._local_address(host, ("10.0.0.2", 9000), "http") == expected
