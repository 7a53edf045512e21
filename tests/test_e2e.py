"""The test that matters: build the sample as a Dockerfile would, install it fresh, run it as a
real process, send it real HTTP requests, and receive its spans over real OTLP/HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from e2e import (
    SAMPLE,
    Env,
    free_port,
    get,
    serving,
    wheel_names,
    wheel_text,
)
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built(sample_build: tuple[Path, str]) -> tuple[Path, str]:
    return sample_build


@pytest.fixture(scope="module")
def app_env(sample_env: Env) -> Env:
    return sample_env


@pytest.fixture(scope="module")
def collector() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


class _Downstream(BaseHTTPRequestHandler):
    """The service /chain calls: records the headers it receives."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"Hello from downstream"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def downstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Downstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hello?sig=secret&q=1"
    server.shutdown()


@pytest.fixture(scope="module")
def greeter(app_env: Env, collector: OtlpReceiver, downstream: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        "GREETER_PORT": str(port),
        "GREETER_UPSTREAM": downstream,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "300",
    }
    log = tmp_path_factory.mktemp("logs") / "greeter.log"
    with serving([str(app_env.bin / "greeter")], port, env, log):
        yield f"http://127.0.0.1:{port}"


def _only(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_the_build_prints_the_plan_with_skipped_rules_and_reasons(built: tuple[Path, str]):
    output = built[1]
    assert "hatch-otel 0.1.0: wove 3 file(s)" in output
    assert "+ flask >=3 (declared): 1 site(s)" in output
    assert "- skipped, not used by the project: " in output
    unused = output.split("- skipped, not used by the project: ", 1)[1].split("\n", 1)[0]
    assert {"http.server", "wsgiref", "django", "redis"} <= set(unused.split(", "))


def test_the_wheel_carries_woven_sources_runtime_hooks_manifest_and_dependencies(
        built: tuple[Path, str]):
    wheel = built[0]
    names = wheel_names(wheel)
    for expected in ("greeter/_otel/__init__.py", "greeter/_otel/trampolines.py",
                     "greeter/_otel/hooks/flask.py", "greeter/_otel/hooks/sqlite3.py",
                     "greeter/_otel/hooks/urllib.py", "greeter/_otel/manifest.json"):
        assert expected in names
    assert "greeter/_otel/hooks/wsgiref.py" not in names
    assert len(names) == len(set(names)), "duplicate entries in the wheel"
    app = wheel_text(wheel, "greeter/app.py")
    assert 'app = _hatch_otel.at("flask.app", Flask)(__name__)' in app
    original = (SAMPLE / "src/greeter/app.py").read_text()
    assert len(app.splitlines()) == len(original.splitlines())
    metadata = wheel_text(wheel, "greeter-1.0.0.dist-info/METADATA")
    for requirement in ("opentelemetry-api", "opentelemetry-sdk",
                        "opentelemetry-exporter-otlp-proto-http"):
        assert f"Requires-Dist: {requirement}>=" in metadata
    manifest = json.loads(wheel_text(wheel, "greeter/_otel/manifest.json"))
    assert manifest["tool"] == "hatch-otel"
    sites = {(s["file"], s["line"], s["join_point"], s["rule"]) for s in manifest["sites"]}
    assert ("greeter/app.py", 12, "call", "flask.app") in sites
    assert any(s[3] == "sqlite3.connect" for s in sites)
    skipped = {d["library"]: d["reason"] for d in manifest["plan"] if not d["selected"]}
    assert skipped["wsgiref"] == "not imported by the project"


def test_greet_produces_a_server_span_with_stable_http_attributes(
        greeter: str, collector: OtlpReceiver):
    collector.clear()
    status, body = get(f"{greeter}/greet?name=otel", {"User-Agent": "e2e-test"})
    assert (status, body) == (200, "Hello, OpenTelemetry!")
    spans = collector.wait_for_spans(lambda s: any(x.name == "GET /greet" for x in s))
    span = _only(spans, "GET /greet")
    assert span.kind == "SERVER"
    assert span.parent_span_id is None
    assert span.scope == "hatch_otel.flask"
    assert span.resource["service.name"] == "greeter"
    assert span.resource["telemetry.distro.name"] == "hatch-otel"
    attributes = span.attributes
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.path"] == "/greet"
    assert attributes["url.query"] == "name=otel"
    assert attributes["url.scheme"] == "http"
    assert attributes["http.route"] == "/greet"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(greeter.rsplit(":", 1)[1])
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["user_agent.original"] == "e2e-test"
    assert attributes["network.protocol.version"] == "1.1"
    assert 0 < span.duration_s < 5


def test_an_incoming_traceparent_is_continued(greeter: str, collector: OtlpReceiver):
    collector.clear()
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    get(f"{greeter}/greet", {"traceparent": f"00-{trace_id}-{parent}-01"})
    span = _only(collector.wait_for_spans(1), "GET /greet")
    assert (span.trace_id, span.parent_span_id) == (trace_id, parent)


def test_chain_links_server_client_and_database_spans_and_propagates_context(
        greeter: str, collector: OtlpReceiver):
    collector.clear()
    _Downstream.seen.clear()
    status, body = get(f"{greeter}/chain")
    assert status == 200
    assert json.loads(body)["upstream"] == "Hello from downstream"
    spans = collector.wait_for_spans(lambda s: len(s) >= 5)
    server = _only(spans, "GET /chain")
    client = _only(spans, "GET")
    assert client.kind == "CLIENT"
    assert (client.trace_id, client.parent_span_id) == (server.trace_id, server.span_id)
    assert client.attributes["url.full"].startswith("http://127.0.0.1:")
    assert client.attributes["url.full"].endswith("/hello?sig=REDACTED&q=1")
    assert "secret" not in json.dumps(client.attributes)
    assert client.attributes["http.response.status_code"] == 200
    assert client.attributes["server.address"] == "127.0.0.1"
    # the outgoing request carried the trace context of the client span
    traceparent = _Downstream.seen[-1]["traceparent"]
    assert traceparent.startswith(f"00-{server.trace_id}-{client.span_id}-")
    queries = [s for s in spans if s.attributes.get("db.system.name") == "sqlite"]
    assert [q.name for q in queries] == ["CREATE greetings", "INSERT greetings",
                                         "SELECT greetings"]
    for query in queries:
        assert query.kind == "CLIENT"
        assert query.parent_span_id == server.span_id
        assert query.trace_id == server.trace_id
    select = queries[-1]
    assert select.attributes["db.query.text"] == "SELECT count(*) FROM greetings WHERE text = ?"
    assert select.attributes["db.operation.name"] == "SELECT"
    assert select.attributes["db.collection.name"] == "greetings"
    assert select.attributes["db.namespace"] == ":memory:"
    assert server.start_ns <= client.start_ns <= client.end_ns <= server.end_ns


def test_an_exception_marks_the_server_span_as_an_error(greeter: str, collector: OtlpReceiver):
    collector.clear()
    status, _ = get(f"{greeter}/fail")
    assert status == 500
    span = _only(collector.wait_for_spans(1), "GET /fail")
    assert span.status_code == "ERROR"
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["http.response.status_code"] == 500
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.message"] == "the greeter failed on purpose"


def test_request_durations_arrive_as_a_histogram_in_seconds(greeter: str,
                                                            collector: OtlpReceiver):
    get(f"{greeter}/greet")
    metrics = collector.wait_for_metrics(
        lambda ms: any(m.name == "http.server.request.duration" and any(
            p.attributes.get("http.route") == "/greet" for p in m.points) for m in ms))
    histogram = next(m for m in metrics if m.name == "http.server.request.duration")
    assert (histogram.kind, histogram.unit) == ("histogram", "s")
    point = next(p for p in histogram.points if p.attributes.get("http.route") == "/greet")
    assert point.attributes["http.request.method"] == "GET"
    assert point.attributes["http.response.status_code"] == 200
    assert point.count and point.count >= 1
    assert 0 < (point.sum or 0) < 5


def test_runtime_telemetry_arrives_with_the_process_metrics(greeter: str,
                                                            collector: OtlpReceiver):
    metrics = collector.wait_for_metrics(lambda ms: {m.name for m in ms} >= {
        "process.cpu.time", "process.memory.usage", "process.thread.count",
        "cpython.gc.collections"})
    cpu = next(m for m in metrics if m.name == "process.cpu.time")
    assert (cpu.unit, cpu.kind) == ("s", "sum")
    assert {p.attributes["cpu.mode"] for p in cpu.points} == {"user", "system"}
    memory = next(m for m in metrics if m.name == "process.memory.usage")
    assert memory.unit == "By" and memory.points[0].value > 10_000_000
