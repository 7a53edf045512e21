"""Small apps built through the real build hook, for the hook library's tests.

Each test writes a tiny project, builds its wheel with the `otel` hook (pip, no build isolation,
hatch-otel from this checkout), installs it into one shared virtual environment that holds the
libraries under test, runs it as a real process and reads its telemetry at a real OTLP receiver.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from e2e import Env, fresh_env, run
from hatch_otel.receiver import OtlpReceiver, ReceivedMetric, ReceivedPoint, ReceivedSpan

REQUIRE_SERVICES = os.environ.get("HATCH_OTEL_REQUIRE_SERVICES") == "1"
BASE_REQUIREMENTS = ("opentelemetry-api", "opentelemetry-sdk",
                     "opentelemetry-exporter-otlp-proto-http")


def require_service(name: str, port: int) -> None:
    """Skip (or, in CI, fail) with a clear reason when a service is not on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable on 127.0.0.1:{port} ({exc.strerror or exc})"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; HATCH_OTEL_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)


PIN_PREFIX = "HATCH_OTEL_PIN_"


def pinned(requirement: str) -> str:
    """`celery==5.7.0` becomes `celery==5.3` while HATCH_OTEL_PIN_CELERY=5.3 is set: how
    tests/lowest_versions.py runs a library's tests at the lowest version it supports."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    parsed = Requirement(requirement)
    pin = os.environ.get(PIN_PREFIX + re.sub(r"[-_.]+", "_", parsed.name).upper())
    if not pin:
        return requirement
    parsed.specifier = SpecifierSet(f"=={pin}")
    return str(parsed)


@dataclass
class AppsEnv:
    """The shared environment the apps run in; libraries are installed on first request."""

    env: Env
    installed: set[str] = field(default_factory=set)

    def require(self, *requirements: str) -> None:
        requirements = tuple(map(pinned, requirements))
        missing = [r for r in requirements if r not in self.installed]
        if missing:
            self.env.pip_install(*missing)
            self.installed.update(missing)

    def install_wheel(self, wheel: Path) -> None:
        self.env.pip_install("--no-deps", "--force-reinstall", str(wheel))


def make_apps_env(path: Path) -> AppsEnv:
    apps = AppsEnv(fresh_env(path))
    apps.require(*BASE_REQUIREMENTS)
    return apps


def write_project(root: Path, name: str, files: Mapping[str, str],
                  dependencies: tuple[str, ...] = (), otel_table: str = "",
                  scripts: Mapping[str, str] | None = None) -> Path:
    """A src-layout project whose package is `name`, with the otel hook table."""
    deps = ", ".join(f'"{d}"' for d in dependencies)
    script_lines = "".join(f'{k} = "{v}"\n' for k, v in (scripts or {}).items())
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-otel"]\n'
        'build-backend = "hatchling.build"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\ndependencies = [{deps}]\n\n'
        + (f"[project.scripts]\n{script_lines}\n" if script_lines else "")
        + f'[tool.hatch.build.targets.wheel]\npackages = ["src/{name}"]\n\n'
        f"[tool.hatch.build.hooks.otel]\n{textwrap.dedent(otel_table)}\n")
    for relative, text in files.items():
        path = root / "src" / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def build_wheel(project: Path, out: Path) -> tuple[Path, str]:
    """Build with this environment's hatchling + hatch-otel; returns the wheel and the output."""
    result = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                  "--no-build-isolation", "--wheel-dir", str(out), str(project)])
    return next(out.glob("*.whl")), result.stdout + result.stderr


@contextmanager
def running(apps: AppsEnv, args: list[str], collector: OtlpReceiver,
            env: Mapping[str, str] | None = None, log: Path | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python ARGS` in the apps environment, exporting to `collector`."""
    variables = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                 "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_METRIC_EXPORT_INTERVAL": "300",
                 **(env or {})}
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen([str(apps.env.python), *args], env=variables, stdout=output,
                               stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            output.close()  # type: ignore[union-attr]


# -- HTTP servers (tests/test_lib_servers_*.py) ---------------------------------------------------
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
"""An incoming W3C trace context: server spans must continue trace 0af7... under span b7ad..."""


@contextmanager
def serving_app(apps: AppsEnv, args: list[str], collector: OtlpReceiver, port: int,
                env: Mapping[str, str] | None = None, log: Path | None = None
                ) -> Iterator[subprocess.Popen[bytes]]:
    """`running(...)` until the server answers on 127.0.0.1:port and its first metrics arrive,
    with the receiver cleared."""
    from e2e import get, wait_for_http

    url = f"http://127.0.0.1:{port}/"
    with running(apps, args, collector, env, log) as process:
        wait_for_http(url, process, log or Path(os.devnull))
        deadline = time.monotonic() + 15
        while not collector.metrics and time.monotonic() < deadline:
            get(url)
            time.sleep(0.2)
        collector.clear()
        yield process


ITEM_HEADERS = {"traceparent": TRACEPARENT, "User-Agent": "lib-test", "X-Tenant": "acme",
                "Authorization": "Bearer secret"}
"""What the server tests send with their traced request (`?token=abc&page=2` in its URL)."""
CAPTURE_SWITCHES = {
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-tenant,authorization",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "content-type",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "authorization",
}


def assert_traced_request(span: ReceivedSpan, library: str, route: str, port: int) -> None:
    """The SERVER span of a 200 request sent with ITEM_HEADERS under CAPTURE_SWITCHES: it
    continues the caller's trace and has every attribute the conventions ask for, the
    signing query value and the Authorization header redacted."""
    assert (span.name, span.kind, span.scope) == (f"GET {route}", "SERVER", f"hatch_otel.{library}")
    assert (span.trace_id, span.parent_span_id) == (TRACEPARENT[3:35], TRACEPARENT[36:52])
    assert span.attributes["http.route"] == route
    assert span.attributes["url.query"] == "token=REDACTED&page=2"
    assert span.attributes["url.scheme"] == "http"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == port
    assert span.attributes["client.address"] == "127.0.0.1"
    assert span.attributes["user_agent.original"] == "lib-test"
    assert span.attributes["network.protocol.version"] == "1.1"
    assert span.attributes["http.request.header.x-tenant"] == ["acme"]
    assert span.attributes["http.request.header.authorization"] == ["[REDACTED]"]
    assert span.attributes["http.response.header.content-type"] == ["application/json"]
    assert "http.request.header.user-agent" not in span.attributes
    assert span.status_code == "UNSET"


def assert_failed_request(span: ReceivedSpan, name: str, error_type: str) -> None:
    """The SERVER span of a request whose handler raised `error_type` (a 500)."""
    assert span.name == name
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == error_type
    assert span.status_code == "ERROR"
    assert [e.attributes["exception.type"] for e in span.events if e.name == "exception"] == [
        error_type]


def assert_not_found(span: ReceivedSpan) -> None:
    """A 404 matched no route: named by its method alone, and not an error."""
    assert (span.name, span.attributes["http.response.status_code"]) == ("GET", 404)
    assert "error.type" not in span.attributes and span.status_code == "UNSET"


def server_spans(collector: OtlpReceiver, *paths: str) -> dict[str, ReceivedSpan]:
    """The one SERVER span of each request path (failing when a path got none or several)."""
    def found(spans: list[ReceivedSpan]) -> bool:
        return all(any(s.attributes.get("url.path") == p for s in spans) for p in paths)

    spans = [s for s in collector.wait_for_spans(found) if s.kind == "SERVER"]
    by_path = {p: [s for s in spans if s.attributes.get("url.path") == p] for p in paths}
    assert all(len(v) == 1 for v in by_path.values()), by_path
    return {p: v[0] for p, v in by_path.items()}


def duration_points(collector: OtlpReceiver, route: str) -> list[ReceivedPoint]:
    """http.server.request.duration points (unit s) recorded for `route`."""
    def points(metrics: list[ReceivedMetric]) -> list[ReceivedPoint]:
        return [p for m in metrics if m.name == "http.server.request.duration" and m.unit == "s"
                for p in m.points if p.attributes.get("http.route") == route]

    return points(collector.wait_for_metrics(lambda m: bool(points(m))))
