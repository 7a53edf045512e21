"""One measured process of the per-request scenario.

Sends GET /greet (with a traceparent header) through an in-process test client: Flask's
`app.test_client()`, or for FastAPI `httpx.AsyncClient` over `httpx.ASGITransport` on one event
loop (what FastAPI's docs use for async tests; Starlette's TestClient hops to a portal thread on
every request, which adds milliseconds of scheduling noise). Every response is read and closed,
as a server does (the close ends a WSGI request's span).

Prints JSON: the median over batches of the mean CPU time of the requesting thread and wall time
per request, peak RSS, and whether a recording span was current
inside a request (proof that the variant is actually instrumented).

    python request_loop.py {flask|fastapi} {plain|sdk|floor-span|floor} REQUESTS BATCHES WARMUP

`plain` also serves the woven and the opentelemetry-instrument variants: those differ only in
what is on PYTHONPATH or in the wrapper command. `sdk` configures the SDK by hand and nothing
else (FastAPI's own telemetry then traces); `floor-span` and `floor` add the hand-written Flask
middleware of floor_http.py (without and with the duration metric).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable

HEADERS = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
           "user-agent": "bench"}


def recording() -> str:
    """The probe route: is a recording span current while the app handles a request?"""
    trace = sys.modules.get("opentelemetry.trace")
    return "1" if trace is not None and trace.get_current_span().is_recording() else "0"


def flask_client(mode: str) -> Callable[[str], tuple[int, bytes]]:
    from greeter.app import app

    app.add_url_rule("/probe", "probe", recording)
    if mode.startswith("floor"):
        import flask
        from floor_http import FloorWsgi, flask_route

        app.wsgi_app = FloorWsgi(app.wsgi_app, metric=mode == "floor")  # type: ignore[method-assign]
        flask.request_started.connect(flask_route, app, weak=False)
    client = app.test_client()

    def get(path: str) -> tuple[int, bytes]:
        with client.get(path, headers=HEADERS) as response:
            return response.status_code, response.get_data()

    return get


def fastapi_client(mode: str) -> Callable[[str], tuple[int, bytes]]:
    import asyncio

    import httpx
    from fastapi.responses import PlainTextResponse
    from fastgreeter.app import app

    app.add_api_route("/probe", recording, response_class=PlainTextResponse)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://testserver")
    loop = asyncio.new_event_loop()

    def get(path: str) -> tuple[int, bytes]:
        response = loop.run_until_complete(client.get(path, headers=HEADERS))
        return response.status_code, response.content

    return get


def main() -> None:
    app, mode = sys.argv[1], sys.argv[2]
    requests, batches, warmup = (int(a) for a in sys.argv[3:6])
    if mode != "plain":
        import sdk_by_hand

        sdk_by_hand.configure()
    get = flask_client(mode) if app == "flask" else fastapi_client(mode)
    status, body = get("/greet")
    if status != 200:
        raise SystemExit(f"GET /greet answered {status}: {body[:200]!r}")
    for _ in range(warmup):
        get("/greet")
    cpu, wall = [], []
    for _ in range(batches):
        started, started_cpu = time.perf_counter(), time.thread_time()
        for _ in range(requests):
            get("/greet")
        cpu.append((time.thread_time() - started_cpu) / requests)
        wall.append((time.perf_counter() - started) / requests)
    probe = get("/probe")[1]
    print(json.dumps({
        "cpu_s": statistics.median(cpu),
        "wall_s": statistics.median(wall),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "recording": probe.strip(b'"') == b"1",
    }))


if __name__ == "__main__":
    main()
