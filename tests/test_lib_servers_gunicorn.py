"""WSGI apps under production servers: a plain WSGI callable under gunicorn (the gunicorn hook),
Flask under gunicorn and waitress (the Flask hook's span, whatever the server), built through
the hook and checked at the OTLP receiver.

Tested at Flask 3.1.3, gunicorn 27.0.1 and waitress 3.0.2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import (
    TRACEPARENT,
    AppsEnv,
    build_wheel,
    duration_points,
    server_spans,
    serving_app,
    write_project,
)
from e2e import free_port, get
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

REQUIREMENTS = ("flask==3.1.3", "gunicorn==27.0.1", "waitress==3.0.2")
FILES = {
    "__init__.py": "",
    "web.py": '''
        from flask import Flask, jsonify

        app = Flask(__name__)


        class BoomError(Exception):
            pass


        @app.get("/items/<int:item_id>")
        def item(item_id):
            return jsonify(id=item_id)


        @app.get("/boom")
        def boom():
            raise BoomError("kaboom")


        @app.get("/health")
        def health():
            return "ok"
    ''',
    "plain.py": '''
        def app(environ, start_response):
            if environ["PATH_INFO"] == "/boom":
                raise LookupError("no such thing")
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"plain"]
    ''',
}


@pytest.fixture(scope="module")
def wsgisite(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require(*REQUIREMENTS)
    work = tmp_path_factory.mktemp("wsgi")
    project = write_project(work / "project", "wsgisite", FILES,
                            dependencies=("flask", "gunicorn", "waitress"))
    wheel, _ = build_wheel(project, work / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


def _gunicorn(app: str, port: int) -> list[str]:
    return ["-m", "gunicorn", app, "--workers", "1", "--bind", f"127.0.0.1:{port}"]


def test_flask_under_gunicorn(wsgisite: AppsEnv, tmp_path: Path, receiver: OtlpReceiver):
    port = free_port()
    switches = {"OTEL_PYTHON_FLASK_EXCLUDED_URLS": "/health$",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "X-.*",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "x-api-key"}
    with serving_app(wsgisite, _gunicorn("wsgisite.web:app", port), receiver, port, switches,
                     tmp_path / "server.log"):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/health")[0] == 200
        assert get(f"{base}/items/3?password=hunter2", {
            "traceparent": TRACEPARENT, "X-Tenant": "acme", "X-Api-Key": "k-123"})[0] == 200
        assert get(f"{base}/boom")[0] == 500
        assert get(f"{base}/nowhere")[0] == 404
        spans = server_spans(receiver, "/items/3", "/boom", "/nowhere")
        assert duration_points(receiver, "/items/<int:item_id>")

    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health"]
    item = spans["/items/3"]
    assert (item.name, item.scope) == ("GET /items/<int:item_id>", "hatch_otel.flask")
    assert (item.trace_id, item.parent_span_id) == (TRACEPARENT[3:35], TRACEPARENT[36:52])
    assert item.attributes["url.query"] == "password=REDACTED"
    assert item.attributes["http.request.header.x-tenant"] == ["acme"]
    assert item.attributes["http.request.header.x-api-key"] == ["[REDACTED]"]
    assert item.attributes["http.response.header.content-type"] == ["application/json"]
    assert item.attributes["server.port"] == port
    boom = spans["/boom"]
    assert boom.attributes["error.type"] == "wsgisite.web.BoomError"
    assert [e.name for e in boom.events] == ["exception"]
    missing = spans["/nowhere"]
    assert (missing.name, missing.attributes["http.response.status_code"]) == ("GET", 404)
    assert "error.type" not in missing.attributes


def test_flask_under_waitress(wsgisite: AppsEnv, tmp_path: Path, receiver: OtlpReceiver):
    port = free_port()
    with serving_app(wsgisite, ["-m", "waitress", "--listen", f"127.0.0.1:{port}",
                                "wsgisite.web:app"], receiver, port, log=tmp_path / "server.log"):
        assert get(f"http://127.0.0.1:{port}/items/5")[0] == 200
        item = server_spans(receiver, "/items/5")["/items/5"]
    assert (item.name, item.scope) == ("GET /items/<int:item_id>", "hatch_otel.flask")
    assert item.attributes["http.response.status_code"] == 200


def test_any_wsgi_app_under_gunicorn(wsgisite: AppsEnv, tmp_path: Path,
                                     receiver: OtlpReceiver):
    port = free_port()
    with serving_app(wsgisite, _gunicorn("wsgisite.plain:app", port), receiver, port,
                     {"OTEL_PYTHON_EXCLUDED_URLS": "/metrics"}, tmp_path / "server.log"):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/metrics")[0] == 200
        assert get(f"{base}/hello", {"traceparent": TRACEPARENT}) == (200, "plain")
        assert get(f"{base}/boom")[0] == 500
        spans = server_spans(receiver, "/hello", "/boom")

    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/metrics"]
    hello = spans["/hello"]
    assert (hello.name, hello.kind, hello.scope) == ("GET", "SERVER", "hatch_otel.gunicorn")
    assert hello.trace_id == TRACEPARENT[3:35]
    assert hello.attributes["http.response.status_code"] == 200
    boom = spans["/boom"]
    assert boom.attributes["error.type"] == "LookupError"
    assert boom.status_code == "ERROR"
