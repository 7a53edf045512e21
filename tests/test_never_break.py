"""The woven app keeps working whatever happens to its telemetry, and says so once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from e2e import Env, free_port, fresh_env, get, serving
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e


def _greet_twice(env: Env, tmp_path: Path, extra: dict[str, str], command: list[str] | None = None
                 ) -> str:
    port = free_port()
    log = tmp_path / "app.log"
    with serving(command or [str(env.bin / "greeter")], port,
                 {"GREETER_PORT": str(port), **extra}, log):
        for _ in range(2):
            assert get(f"http://127.0.0.1:{port}/greet") == (200, "Hello, OpenTelemetry!")
        assert get(f"http://127.0.0.1:{port}/chain")[0] == 200
    return log.read_text()


def test_without_the_opentelemetry_packages_the_app_runs_after_one_warning(
        sample_build: tuple[Path, str], tmp_path: Path):
    env = fresh_env(tmp_path / "venv")
    env.pip_install("flask>=3")
    env.pip_install("--no-deps", str(sample_build[0]))
    log = _greet_twice(env, tmp_path, {})
    assert log.count("hatch-otel: OpenTelemetry is not installed") == 1, log
    assert "Traceback" not in log


def test_with_the_sdk_disabled_nothing_is_exported(sample_env: Env, tmp_path: Path):
    with OtlpReceiver() as collector:
        log = _greet_twice(sample_env, tmp_path, {"OTEL_SDK_DISABLED": "true",
                                                  "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                                                  "OTEL_BSP_SCHEDULE_DELAY": "50"})
        time.sleep(0.5)
        assert collector.spans == [] and collector.requests == 0
    assert "hatch-otel" not in log


def test_a_missing_collector_does_not_slow_or_break_requests(sample_env: Env, tmp_path: Path):
    closed = free_port()
    started = time.monotonic()
    log = _greet_twice(sample_env, tmp_path, {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed}",
        "OTEL_BSP_SCHEDULE_DELAY": "50"})
    assert time.monotonic() - started < 20
    assert "Traceback" not in log


def test_a_disabled_instrumentation_is_left_out(sample_env: Env, tmp_path: Path):
    with OtlpReceiver() as collector:
        _greet_twice(sample_env, tmp_path, {
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "sqlite3, urllib",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "5000"})
        # the app was stopped with SIGTERM long before the 5 s batch delay: spans still arrive
        spans = collector.wait_for_spans(lambda s: any(x.name == "GET /chain" for x in s),
                                         timeout=5)
    assert {s.scope for s in spans} == {"hatch_otel.flask"}
    assert len([s for s in spans if s.name == "GET /greet"]) == 3


OWN_SETUP = '''
import sqlite3
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def main():
    provider = TracerProvider(resource=Resource.create({"service.name": "own-setup"}))
    exporter = OTLPSpanExporter(endpoint=sys.argv[1] + "/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    sqlite3.connect(":memory:").execute("SELECT 1")
    provider.shutdown()
'''


def test_an_app_that_configures_opentelemetry_itself_keeps_its_own_setup(
        apps_env, tmp_path: Path, receiver: OtlpReceiver):
    from apps import build_wheel, running, write_project

    project = write_project(tmp_path / "project", "ownsetup",
                            {"__init__.py": "", "app.py": OWN_SETUP})
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)
    with OtlpReceiver() as own, running(
            apps_env, ["-c", "from ownsetup.app import main; main()", own.endpoint],
            receiver, log=tmp_path / "app.log") as process:
        assert process.wait(timeout=30) == 0, (tmp_path / "app.log").read_text()
        [span] = own.wait_for_spans(1)
    assert (span.name, span.resource["service.name"]) == ("SELECT", "own-setup")
    assert span.scope == "hatch_otel.sqlite3"
    assert receiver.spans == []  # the OTEL_* endpoint the woven runtime would have used
    assert "Overriding of current TracerProvider" not in (tmp_path / "app.log").read_text()


def test_under_opentelemetry_instrument_the_woven_hooks_stand_down(
        sample_build: tuple[Path, str], tmp_path: Path):
    env = fresh_env(tmp_path / "venv")
    env.pip_install(str(sample_build[0]), "opentelemetry-distro",
                    "opentelemetry-instrumentation-flask")
    with OtlpReceiver() as collector:
        log = _greet_twice(env, tmp_path, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_SERVICE_NAME": "greeter", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            command=[str(env.bin / "opentelemetry-instrument"), str(env.bin / "greeter")])
        spans = collector.wait_for_spans(lambda s: len([x for x in s if x.kind == "SERVER"]) >= 4)
    servers = [s for s in spans if s.kind == "SERVER"]
    assert len([s for s in servers if s.name == "GET /greet"]) == 3  # one per request, not two
    assert {s.scope for s in servers} == {"opentelemetry.instrumentation.flask"}
    assert not [s for s in spans if s.scope.startswith("hatch_otel.")]
    assert log.count("running under opentelemetry-instrument") == 1
