"""aiohttp.web, built through the hook and checked at the OTLP receiver (aiohttp 3.14.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import (
    TRACEPARENT,
    AppsEnv,
    assert_failed_request,
    assert_not_found,
    build_wheel,
    duration_points,
    server_spans,
    serving_app,
    write_project,
)
from e2e import free_port, get
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

SERVER = '''
import os

from aiohttp import web


class BoomError(Exception):
    pass


async def item(request):
    return web.json_response({"id": int(request.match_info["item_id"])})


async def boom(request):
    raise BoomError("kaboom")


async def health(request):
    return web.Response(text="ok")


async def ping(request):
    return web.Response(text="pong")


def main():
    app = web.Application()
    app.add_routes([web.get("/items/{item_id}", item), web.get("/boom", boom),
                    web.get("/health", health)])
    admin = web.Application()
    admin.add_routes([web.get("/ping", ping)])
    app.add_subapp("/admin/", admin)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None,
                access_log=None)
'''


def test_aiohttp_requests_are_server_spans_named_after_their_resource(
        apps_env: AppsEnv, tmp_path: Path, receiver: OtlpReceiver):
    apps_env.require("aiohttp==3.14.5")
    project = write_project(tmp_path / "project", "aiosite",
                            {"__init__.py": "", "server.py": SERVER}, dependencies=("aiohttp",))
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)
    port = free_port()
    switches = {"PORT": str(port), "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS": "/health",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-tenant",
                "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type"}
    with serving_app(apps_env, ["-c", "from aiosite.server import main; main()"], receiver,
                     port, switches, tmp_path / "server.log"):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/health")[0] == 200
        assert get(f"{base}/items/9?sig=abc", {"traceparent": TRACEPARENT,
                                               "X-Tenant": "acme"}) == (200, '{"id": 9}')
        assert get(f"{base}/admin/ping") == (200, "pong")
        assert get(f"{base}/boom")[0] == 500
        assert get(f"{base}/nowhere")[0] == 404
        spans = server_spans(receiver, "/items/9", "/admin/ping", "/boom", "/nowhere")
        points = duration_points(receiver, "/items/{item_id}")

    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health"]
    item = spans["/items/9"]
    assert (item.name, item.kind, item.scope) == ("GET /items/{item_id}", "SERVER",
                                                  "hatch_otel.aiohttp-server")
    assert (item.trace_id, item.parent_span_id) == (TRACEPARENT[3:35], TRACEPARENT[36:52])
    assert item.attributes["http.route"] == "/items/{item_id}"
    assert item.attributes["url.query"] == "sig=REDACTED"
    assert item.attributes["http.response.status_code"] == 200
    assert item.attributes["server.address"] == "127.0.0.1"
    assert item.attributes["server.port"] == port
    assert item.attributes["client.address"] == "127.0.0.1"
    assert item.attributes["network.protocol.version"] == "1.1"
    assert item.attributes["http.request.header.x-tenant"] == ["acme"]
    assert item.attributes["http.response.header.content-type"] == [
        "application/json; charset=utf-8"]
    assert spans["/admin/ping"].name == "GET /admin/ping"
    assert [e.name for e in spans["/boom"].events] == ["exception"]
    assert_failed_request(spans["/boom"], "GET /boom", "aiosite.server.BoomError")
    assert_not_found(spans["/nowhere"])
    assert points[0].attributes["http.response.status_code"] == 200
