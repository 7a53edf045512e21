"""What the HTTP client hook tests (tests/test_lib_clients_*.py) share; no tests of its own.

Each test file builds a small app through the real build hook: a `calls` module whose `calls()`
a custom `trace` rule turns into the parent span `job`, plus the `common` module here. The app
runs as a real process and makes real requests to a real local server run by the test, which
records the headers it receives: per request an `ok` (200), a `fail` (500), a `refused` (nothing
listens on the port) and, for some, a `redirect` (302 to `ok`), each tagged `?n=<label>`. URLs
carry a signing query value and, where the library accepts them, credentials: neither may reach
the telemetry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from apps import AppsEnv, build_wheel, running, write_project
from e2e import free_port
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

COMMON = '''
import contextlib
import os

from opentelemetry import baggage, context


def targets(label, credentials=False, redirect=False):
    """ok (200), fail (500), refused (nothing listens) and maybe redirect (302 -> ok)."""
    base, refused = os.environ["BASE"], os.environ["REFUSED"]
    signed = base.replace("http://", "http://user:s3cret@") if credentials else base
    urls = [f"{signed}/ok?n={label}-ok&token=abc", f"{base}/fail?n={label}-fail",
            f"{refused}/gone?n={label}-refused"]
    if redirect:
        urls.append(f"{base}/redirect?n={label}-redirect")
    return urls


@contextlib.contextmanager
def ready():
    """Baggage to propagate."""
    token = context.attach(baggage.set_baggage("tier", "gold"))
    try:
        yield
    finally:
        context.detach(token)
'''

TRACE_RULES = """
[[tool.hatch.build.hooks.otel.trace]]
function = "{package}.calls:calls"
span-name = "job"
"""
"""The app's requests run inside its traced `calls()`: the parent span `job`."""

HOPS = {"redirect": 302, "redirect-hop": 200}
"""A span per request sent: the redirect and the request it leads to."""
FOLLOWED = {"redirect": 200}
"""One span for a request and the redirects the library follows inside it."""
CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"

Expected = Mapping[str, tuple[str, object]]
"""Request tag -> (instrumentation, HTTP status or the error.type of the exception)."""


# -- the server the app calls --------------------------------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status, extra = {"/ok": (200, {}), "/fail": (500, {}),
                         "/redirect": (302, {"Location": f"/ok?{parts.query}-hop"})
                         }.get(parts.path, (404, {}))
        body = f"{status}".encode()
        self.send_response(status)
        for name, value in {**extra, "Content-Length": str(len(body)),
                            "X-Served-By": "recorder"}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    seen: list[tuple[str, dict[str, str]]]


@dataclass
class Target:
    """The recording server, and the app `package` installed in the shared apps environment."""

    server: _Server
    apps: AppsEnv
    package: str
    refused_port: int = field(default_factory=free_port)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        """(path, headers) of every request the server received in the last run."""
        return self.server.seen

    def headers_for(self, label: str) -> list[dict[str, str]]:
        """What the server received for the request tagged `n=label`."""
        return [headers for path, headers in self.server.seen
                if parse_qs(urlsplit(path).query).get("n") == [label]]

    def run(self, collector: OtlpReceiver, tmp_path: Path, env: Mapping[str, str] | None = None,
            setup: str = "", main_args: str = "") -> None:
        """Run `setup`, then `<package>.calls.main(main_args)`, to its end (everything is
        exported at exit)."""
        self.server.seen.clear()
        log = tmp_path / "app.log"
        code = f"{setup}\nfrom {self.package}.calls import main\nmain({main_args})"
        variables = {"BASE": f"http://127.0.0.1:{self.port}", "PORT": str(self.port),
                     "REFUSED": f"http://127.0.0.1:{self.refused_port}", **(env or {})}
        with running(self.apps, ["-c", code], collector, variables, log) as process:
            assert process.wait(timeout=60) == 0, log.read_text()


@contextmanager
def serving_app(apps_env: AppsEnv, root: Path, package: str, calls: str,
                dependencies: tuple[str, ...] = ()) -> Iterator[Target]:
    """Build the app `package` (its `calls` module source given), install it and start the
    recording server."""
    project = write_project(root / "project", package,
                            {"__init__.py": "", "common.py": COMMON, "calls.py": calls},
                            dependencies=dependencies,
                            otel_table=TRACE_RULES.format(package=package))
    wheel, _ = build_wheel(project, root / "dist")
    apps_env.install_wheel(wheel)
    server = _Server(("127.0.0.1", 0), _Recorder)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Target(server, apps_env, package)
    finally:
        server.shutdown()
        server.server_close()


# -- reading what arrived ------------------------------------------------------------------------
def outcomes(library: str, prefix: str, refused: str,
             redirect: Mapping[str, int] | None = None) -> Expected:
    """The expected spans of `targets(prefix, ...)`: `refused` is its error.type."""
    return {f"{prefix}-ok": (library, 200), f"{prefix}-fail": (library, 500),
            f"{prefix}-refused": (library, refused),
            **{f"{prefix}-{tag}": (library, status) for tag, status in (redirect or {}).items()}}


def client_spans(collector: OtlpReceiver) -> dict[str, list[ReceivedSpan]]:
    """CLIENT spans by the `n` tag of their URL (a list, so duplicates show)."""
    found: dict[str, list[ReceivedSpan]] = {}
    for span in collector.spans:
        if span.kind == "CLIENT":
            url = str(span.attributes["url.full"])
            found.setdefault(parse_qs(urlsplit(url).query).get("n", [url])[0], []).append(span)
    return found


def context_of(headers: Mapping[str, str]) -> tuple[str, str]:
    """The trace and parent ids of a W3C `traceparent` the server received."""
    _, trace_id, span_id, _ = headers["traceparent"].split("-")
    return trace_id, span_id


def check(target: Target, collector: OtlpReceiver, expected: Expected,
          credentials: tuple[str, ...] = ()) -> dict[str, ReceivedSpan]:
    """Exactly the expected CLIENT spans, one per request, children of the app's job span,
    each sent on as `traceparent` with the job's baggage; then the duration histograms."""
    spans = client_spans(collector)
    assert {k: len(v) for k, v in spans.items()} == dict.fromkeys(expected, 1)
    job = next(s for s in collector.spans if s.name == "job")
    found = {}
    for label, (library, outcome) in expected.items():
        [span] = spans[label]
        found[label] = span
        attributes = span.attributes
        assert (span.name, span.scope) == ("GET", f"hatch_otel.{library}"), label
        assert (span.trace_id, span.parent_span_id) == (job.trace_id, job.span_id), label
        assert attributes["http.request.method"] == "GET"
        assert attributes["server.address"] == "127.0.0.1"
        url = str(attributes["url.full"])
        assert "abc" not in url and "s3cret" not in url, url  # token=abc, user:s3cret@
        assert ("REDACTED:REDACTED@" in url) == (label in credentials), url
        assert not any(k.startswith(("http.request.header.", "http.response.header."))
                       for k in attributes)
        if isinstance(outcome, str):  # an exception, no response
            assert attributes["server.port"] == target.refused_port
            assert attributes["error.type"] == outcome, label
            assert "http.response.status_code" not in attributes
            assert span.status_code == "ERROR"
            assert [e.name for e in span.events] == ["exception"]
            continue
        assert attributes["server.port"] == target.port
        assert attributes["http.response.status_code"] == outcome, label
        assert attributes["network.protocol.version"] == "1.1", label
        [received, *_] = target.headers_for(label)
        assert context_of(received) == (span.trace_id, span.span_id), label
        assert received["baggage"] == "tier=gold"
        if outcome == 500:
            assert (attributes["error.type"], span.status_code) == ("500", "ERROR")
        else:
            assert ("error.type" not in attributes, span.status_code) == (True, "UNSET")
    for library in {library for library, _ in expected.values()}:
        _check_histogram(target, collector, library, [
            outcome for lib, outcome in expected.values() if lib == library])
    return found


def _check_histogram(target: Target, collector: OtlpReceiver, library: str,
                     outcomes: list[object]) -> None:
    """One measurement per request, in seconds, by status / error.type."""
    exported = [m for m in collector.metrics if m.name == "http.client.request.duration"
                and m.scope == f"hatch_otel.{library}"]
    assert exported, f"no http.client.request.duration from {library}"
    histogram = exported[-1]  # cumulative: the last export holds every measurement
    assert (histogram.kind, histogram.unit) == ("histogram", "s")
    counts: dict[object, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    measured = {p.attributes.get("http.response.status_code", p.attributes.get("error.type")):
                p.count for p in histogram.points}
    assert measured == counts
    ok = next(p for p in histogram.points if p.attributes.get("http.response.status_code") == 200)
    assert 0 < (ok.sum or 0) < 5
    assert ok.attributes == {"http.request.method": "GET", "server.address": "127.0.0.1",
                             "server.port": target.port, "network.protocol.version": "1.1",
                             "http.response.status_code": 200}
    failed = next(p for p in histogram.points if p.attributes.get("error.type") == "500")
    assert failed.attributes["http.response.status_code"] == 500


def same_span(target: Target, span: ReceivedSpan, hop: str) -> None:
    """A redirect followed inside one span carries that span's context on."""
    [received] = target.headers_for(hop)
    assert context_of(received) == (span.trace_id, span.span_id)


def nothing_traced(target: Target, collector: OtlpReceiver) -> None:
    """The app ran (its job span arrived) but no request was traced or carried a context."""
    assert "job" in {s.name for s in collector.spans}
    assert not [s for s in collector.spans if s.kind == "CLIENT"]
    assert target.seen
    assert not any("traceparent" in headers for _, headers in target.seen)
