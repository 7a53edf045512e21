"""Starlette and FastAPI apps, built through the hook, served by uvicorn.

Tested at Starlette 1.10.0, FastAPI 0.165.0 (which makes its own SERVER span once a tracer
provider is set: the hook keeps that one span and enriches it) and uvicorn 0.54.0. Each test
requires only its own framework, so tests/lowest_versions.py can pin either one (the Starlette
test runs first: FastAPI's requirement may then move Starlette).
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
from e2e import free_port, get, run
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

UVICORN = "uvicorn==0.54.0"
FILES = {
    "__init__.py": "",
    "errors.py": '''
        class BoomError(Exception):
            pass
    ''',
    "star.py": '''
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Mount, Route

        from .errors import BoomError


        async def item(request):
            return JSONResponse({"id": request.path_params["item_id"]})


        async def boom(request):
            raise BoomError("kaboom")


        async def health(request):
            return PlainTextResponse("ok")


        app = Starlette(routes=[
            Mount("/api", routes=[Route("/items/{item_id:int}", item)]),
            Route("/boom", boom),
            Route("/health", health),
        ])
    ''',
    "fast.py": '''
        from fastapi import FastAPI

        from .errors import BoomError

        app = FastAPI()


        @app.get("/items/{item_id}")
        async def item(item_id: int):
            return {"id": item_id}


        @app.get("/boom")
        def boom():
            raise BoomError("kaboom")


        @app.get("/health")
        async def health():
            return "ok"
    ''',
}
SWITCHES = {
    "OTEL_PYTHON_EXCLUDED_URLS": "/health",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-tenant,cookie",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "cookie",
}


@pytest.fixture(scope="module")
def asgisite(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require(UVICORN)
    work = tmp_path_factory.mktemp("asgi")
    project = write_project(work / "project", "asgisite", FILES,
                            dependencies=("starlette", "fastapi", "uvicorn"))
    wheel, _ = build_wheel(project, work / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


def _serve(apps: AppsEnv, app: str, receiver: OtlpReceiver, log: Path, item_path: str,
           route: str) -> dict[str, ReceivedSpan]:
    """Excluded, traced (with a trace context and headers), failing and missing requests;
    the duration of `route` measured."""
    port = free_port()
    with serving_app(apps, ["-m", "uvicorn", app, "--port", str(port), "--log-level",
                            "critical"], receiver, port, SWITCHES, log):
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/health")[0] == 200
        assert get(f"{base}{item_path}?api_key=s3cret", {
            "traceparent": TRACEPARENT, "X-Tenant": "acme", "Cookie": "session=abc"}) == (
            200, '{"id":4}')
        assert get(f"{base}/boom")[0] == 500
        assert get(f"{base}/nowhere")[0] == 404
        spans = server_spans(receiver, item_path, "/boom", "/nowhere")
        point = duration_points(receiver, route)[0]
    assert not [s for s in receiver.spans if s.attributes.get("url.path") == "/health"]
    item = spans[item_path]
    assert (item.trace_id, item.parent_span_id) == (TRACEPARENT[3:35], TRACEPARENT[36:52])
    assert item.attributes["url.query"] == "api_key=REDACTED"
    assert item.attributes["http.request.header.x-tenant"] == ["acme"]
    assert item.attributes["http.request.header.cookie"] == ["[REDACTED]"]
    assert item.attributes["http.response.header.content-type"] == ["application/json"]
    assert item.attributes["http.response.status_code"] == 200
    boom = spans["/boom"]
    assert boom.attributes["error.type"] == "asgisite.errors.BoomError"
    assert boom.status_code == "ERROR"
    assert [e.name for e in boom.events] == ["exception"]
    missing = spans["/nowhere"]
    assert (missing.name, missing.attributes["http.response.status_code"]) == ("GET", 404)
    assert "error.type" not in missing.attributes and missing.status_code == "UNSET"
    assert point.attributes["http.response.status_code"] == 200
    return spans


def test_starlette_under_uvicorn(asgisite: AppsEnv, tmp_path: Path, receiver: OtlpReceiver):
    asgisite.require("starlette==1.10.0")
    spans = _serve(asgisite, "asgisite.star:app", receiver, tmp_path / "server.log",
                   "/api/items/4", "/api/items/{item_id:int}")
    item = spans["/api/items/4"]
    assert (item.name, item.kind, item.scope) == ("GET /api/items/{item_id:int}", "SERVER",
                                                  "hatch_otel.starlette")
    assert item.attributes["http.route"] == "/api/items/{item_id:int}"
    assert item.attributes["client.address"] == "127.0.0.1"
    assert item.attributes["server.address"] == "127.0.0.1"
    assert item.attributes["network.protocol.version"] == "1.1"
    assert spans["/boom"].attributes["http.response.status_code"] == 500


def test_fastapi_under_uvicorn_one_span_per_request(asgisite: AppsEnv, tmp_path: Path,
                                                    receiver: OtlpReceiver):
    asgisite.require("fastapi==0.165.0")
    spans = _serve(asgisite, "asgisite.fast:app", receiver, tmp_path / "server.log",
                   "/items/4", "/items/{item_id}")
    scope = "fastapi" if _fastapi_traces_itself(asgisite) else "hatch_otel.fastapi"
    item = spans["/items/4"]
    assert (item.name, item.kind, item.scope) == ("GET /items/{item_id}", "SERVER", scope)
    assert item.attributes["http.route"] == "/items/{item_id}"
    assert {s.scope for s in receiver.spans if s.kind == "SERVER"} == {scope}


def _fastapi_traces_itself(apps: AppsEnv) -> bool:
    """Whether the installed FastAPI has its own telemetry (the `telemetry` parameter)."""
    return run([str(apps.env.python), "-c", "import inspect, fastapi; print('telemetry' in "
                "inspect.signature(fastapi.FastAPI).parameters)"]).stdout.strip() == "True"
