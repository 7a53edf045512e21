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
