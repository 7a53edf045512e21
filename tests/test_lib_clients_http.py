"""HTTP client hooks (urllib, http.client, requests, urllib3, httpx, aiohttp), checked for real.

One small app, built through the real build hook and installed, makes real requests with each
library to a real local server run by the test, which records the headers it receives. Every
library the app uses is instrumented at once, so layered stacks (requests over urllib3 over
http.client, urlopen over http.client) must still give exactly one span per request.

Tested at the newest releases: requests 2.34.2, urllib3 2.8.0, httpx 0.28.1, aiohttp 3.14.5.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from e2e import free_port
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

LIBRARIES = ("requests==2.34.2", "urllib3==2.8.0", "httpx==0.28.1", "aiohttp==3.14.5")

COMMON = '''
import contextlib
import os
import time

from opentelemetry import baggage, context, metrics


def targets(label, credentials=False, redirect=False):
    """ok (200), fail (500), refused (nothing listens) and maybe redirect (302 -> ok)."""
    base, refused = os.environ["BASE"], os.environ["REFUSED"]
    signed = base.replace("http://", "http://user:s3cret@") if credentials else base
    urls = [f"{signed}/ok?n={label}-ok&token=abc", f"{base}/fail?n={label}-fail",
            f"{refused}/gone?n={label}-refused"]
    if redirect:
        urls.append(f"{base}/redirect?n={label}-redirect")
    return urls


def telemetry_started():
    """Traced (see TRACE_RULES): the runtime may set the SDK up on its first span."""


@contextlib.contextmanager
def ready():
    """Telemetry up (the meter provider is set up in the background, and measurements made
    before that are lost), and baggage to propagate."""
    telemetry_started()
    deadline = time.monotonic() + 10
    while (type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
           and time.monotonic() < deadline):
        time.sleep(0.02)
    token = context.attach(baggage.set_baggage("tier", "gold"))
    try:
        yield
    finally:
        context.detach(token)
'''

STDLIB = '''
import contextlib
import http.client
import os
import urllib.error
import urllib.request

from .common import ready, targets


@contextlib.contextmanager
def tolerant():
    try:
        yield
    except urllib.error.HTTPError as error:
        error.close()
    except urllib.error.URLError:
        pass


def calls():
    for url in targets("urlopen", redirect=True):
        with tolerant(), urllib.request.urlopen(url, timeout=5) as response:
            response.read()
    opener = urllib.request.build_opener()
    for url in targets("opener", redirect=True):
        with tolerant(), opener.open(url, timeout=5) as response:
            response.read()
    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=5)
    connection.request("GET", "/ok?n=connection-ok")
    connection.getresponse().read()
    connection.close()


def main():
    with ready():
        calls()
'''

REQUESTS = '''
import requests

from .common import ready, targets


def calls(session):
    for url in targets("requests", credentials=True, redirect=True):
        try:
            session.get(url, headers={"X-Request-Id": "r-1"}, timeout=5)
        except requests.ConnectionError:
            pass
    requests.get(targets("direct")[0], timeout=5)


def main(session):
    """`session` was made before this package (and the instrumentation) was imported."""
    with ready():
        calls(session)
'''

URLLIB3 = '''
import urllib3

from .common import ready, targets


def calls():
    pool = urllib3.PoolManager()
    for url in targets("urllib3", redirect=True):
        try:
            pool.request("GET", url, timeout=5)
        except urllib3.exceptions.HTTPError:
            pass


def main():
    with ready():
        calls()
'''

HTTPX = '''
import asyncio

import httpx

from .common import ready, targets


async def _asynchronous():
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as client:
        for url in targets("httpx-async", credentials=True, redirect=True):
            try:
                await client.get(url)
            except httpx.ConnectError:
                pass


def calls():
    with httpx.Client(follow_redirects=True, timeout=5) as client:
        for url in targets("httpx", credentials=True, redirect=True):
            try:
                client.get(url)
            except httpx.ConnectError:
                pass
    asyncio.run(_asynchronous())


def main():
    with ready():
        calls()
'''

AIOHTTP = '''
import asyncio

import aiohttp

from .common import ready, targets


async def _requests():
    async with aiohttp.ClientSession() as session:
        for url in targets("aiohttp", credentials=True, redirect=True):
            try:
                async with session.get(url) as response:
                    await response.read()
            except aiohttp.ClientConnectionError:
                pass


def calls():
    asyncio.run(_requests())


def main():
    with ready():
        calls()
'''


TRACE_RULES = """
[[tool.hatch.build.hooks.otel.trace]]
function = "clientapp.use_*:calls"
span-name = "job"

[[tool.hatch.build.hooks.otel.trace]]
function = "clientapp.common:telemetry_started"
"""
"""Each app's requests run inside its traced `calls()`: the parent span `job`."""


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
    """The recording server, and the app installed in the shared apps environment."""

    server: _Server
    apps: AppsEnv
    refused_port: int = field(default_factory=free_port)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def headers_for(self, label: str) -> list[dict[str, str]]:
        """What the server received for the request tagged `n=label`."""
        return [headers for path, headers in self.server.seen
                if parse_qs(urlsplit(path).query).get("n") == [label]]

    def run(self, module: str, collector: OtlpReceiver, tmp_path: Path,
            env: Mapping[str, str] | None = None, setup: str = "", main_args: str = "") -> None:
        """Run `setup`, then `clientapp.<module>.main(main_args)` to its end (everything is
        exported at exit)."""
        self.server.seen.clear()
        log = tmp_path / f"{module}.log"
        code = f"{setup}\nfrom clientapp.{module} import main\nmain({main_args})"
        variables = {"BASE": f"http://127.0.0.1:{self.port}", "PORT": str(self.port),
                     "REFUSED": f"http://127.0.0.1:{self.refused_port}", **(env or {})}
        with running(self.apps, ["-c", code], collector, variables, log) as process:
            assert process.wait(timeout=60) == 0, log.read_text()


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    apps_env.require(*LIBRARIES)
    root = tmp_path_factory.mktemp("clients")
    project = write_project(
        root / "project", "clientapp",
        {"__init__.py": "", "common.py": COMMON, "use_stdlib.py": STDLIB,
         "use_requests.py": REQUESTS, "use_urllib3.py": URLLIB3, "use_httpx.py": HTTPX,
         "use_aiohttp.py": AIOHTTP},
        dependencies=("requests", "urllib3", "httpx", "aiohttp"), otel_table=TRACE_RULES)
    wheel, _ = build_wheel(project, root / "dist")
    apps_env.install_wheel(wheel)
    server = _Server(("127.0.0.1", 0), _Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Target(server, apps_env)
    server.shutdown()
    server.server_close()


# -- reading what arrived ------------------------------------------------------------------------
Expected = Mapping[str, tuple[str, object]]
"""Request tag -> (instrumentation, HTTP status or the error.type of the exception)."""


def _label(span: ReceivedSpan) -> str:
    """The `n` tag of the span's URL (or the whole URL of an unexpected request)."""
    url = str(span.attributes["url.full"])
    return parse_qs(urlsplit(url).query).get("n", [url])[0]


def _client_spans(collector: OtlpReceiver) -> dict[str, list[ReceivedSpan]]:
    """CLIENT spans by the `n` tag of their URL (a list, so duplicates show)."""
    found: dict[str, list[ReceivedSpan]] = {}
    for span in collector.spans:
        if span.kind == "CLIENT":
            found.setdefault(_label(span), []).append(span)
    return found


def _context(headers: Mapping[str, str]) -> tuple[str, str]:
    """The trace and parent ids of a W3C `traceparent` the server received."""
    _, trace_id, span_id, _ = headers["traceparent"].split("-")
    return trace_id, span_id


def _check(target: Target, collector: OtlpReceiver, expected: Expected,
           credentials: tuple[str, ...] = ()) -> dict[str, ReceivedSpan]:
    """Exactly the expected CLIENT spans, one per request, children of the app's job span,
    each sent on as `traceparent` with the job's baggage; then the duration histograms."""
    spans = _client_spans(collector)
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
        assert _context(received) == (span.trace_id, span.span_id), label
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


def _outcomes(library: str, prefix: str, refused: str, redirect: Mapping[str, int]) -> Expected:
    return {f"{prefix}-ok": (library, 200), f"{prefix}-fail": (library, 500),
            f"{prefix}-refused": (library, refused),
            **{f"{prefix}-{tag}": (library, status) for tag, status in redirect.items()}}


HOPS = {"redirect": 302, "redirect-hop": 200}
"""A span per request sent: the redirect and the request it leads to."""
FOLLOWED = {"redirect": 200}
"""One span for a request and the redirects the library follows inside it."""


def _same_span(target: Target, span: ReceivedSpan, hop: str) -> None:
    """A redirect followed inside one span carries that span's context on."""
    [received] = target.headers_for(hop)
    assert _context(received) == (span.trace_id, span.span_id)


# -- the libraries -------------------------------------------------------------------------------
def test_urlopen_call_sites_and_http_client_connections(target: Target, receiver: OtlpReceiver,
                                                        tmp_path: Path):
    """The project's urlopen calls: urllib spans, http.client quiet under them. Openers and
    connections used directly: http.client spans, one per request sent."""
    target.run("use_stdlib", receiver, tmp_path)
    found = _check(target, receiver, {
        **_outcomes("urllib", "urlopen", "urllib.error.URLError", FOLLOWED),
        **_outcomes("http.client", "opener", "ConnectionRefusedError", HOPS),
        "connection-ok": ("http.client", 200),
    })
    _same_span(target, found["urlopen-redirect"], "urlopen-redirect-hop")


def test_requests_one_span_per_request_over_urllib3_and_http_client(
        target: Target, receiver: OtlpReceiver, tmp_path: Path):
    """A Session made before the instrumentation loaded, and a direct requests.get."""
    target.run("use_requests", receiver, tmp_path, setup="import requests\n"
               "early = requests.Session()", main_args="early")
    _check(target, receiver, {
        **_outcomes("requests", "requests", "requests.exceptions.ConnectionError", HOPS),
        "direct-ok": ("requests", 200),
    }, credentials=("requests-ok",))


def test_urllib3_pool_manager(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run("use_urllib3", receiver, tmp_path)
    _check(target, receiver,
           _outcomes("urllib3", "urllib3", "urllib3.exceptions.MaxRetryError", HOPS))


def test_httpx_client_and_async_client(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run("use_httpx", receiver, tmp_path)
    _check(target, receiver, {
        **_outcomes("httpx", "httpx", "httpx.ConnectError", HOPS),
        **_outcomes("httpx", "httpx-async", "httpx.ConnectError", HOPS),
    }, credentials=("httpx-ok", "httpx-async-ok"))


def test_aiohttp_client_session(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run("use_aiohttp", receiver, tmp_path)
    found = _check(target, receiver, _outcomes(
        "aiohttp-client", "aiohttp", "aiohttp.client_exceptions.ClientConnectorError", FOLLOWED),
        credentials=("aiohttp-ok",))
    _same_span(target, found["aiohttp-redirect"], "aiohttp-redirect-hop")


# -- switches ------------------------------------------------------------------------------------
def test_disabling_requests_leaves_urllib3_to_trace_it(target: Target, receiver: OtlpReceiver,
                                                        tmp_path: Path):
    target.run("use_requests", receiver, tmp_path, {
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests"},
        setup="import requests\nearly = requests.Session()", main_args="early")
    _check(target, receiver, {
        **_outcomes("urllib3", "requests", "urllib3.exceptions.MaxRetryError", HOPS),
        "direct-ok": ("urllib3", 200),
    })


@pytest.mark.parametrize(("module", "disabled"), [
    ("use_stdlib", "urllib, http.client"), ("use_aiohttp", "aiohttp-client")])
def test_disabled_instrumentations_send_nothing(target: Target, receiver: OtlpReceiver,
                                               tmp_path: Path, module: str, disabled: str):
    target.run(module, receiver, tmp_path, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled})
    assert "job" in {s.name for s in receiver.spans}
    assert not [s for s in receiver.spans if s.kind == "CLIENT"]
    assert target.server.seen
    assert not any("traceparent" in headers for _, headers in target.server.seen)


def test_headers_are_captured_only_when_asked_and_sanitized(
        target: Target, receiver: OtlpReceiver, tmp_path: Path):
    prefix = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
    target.run("use_requests", receiver, tmp_path, {
        prefix + "CLIENT_REQUEST": "X-Request-Id,authorization",
        prefix + "CLIENT_RESPONSE": "x-served-by,content-.*",
        prefix + "SANITIZE_FIELDS": "Authorization",
    }, setup="import requests\nearly = requests.Session()", main_args="early")
    [span] = _client_spans(receiver)["requests-ok"]
    captured = {k: v for k, v in span.attributes.items() if ".header." in k}
    assert captured == {"http.request.header.x-request-id": ["r-1"],
                        "http.request.header.authorization": ["[REDACTED]"],
                        "http.response.header.x-served-by": ["recorder"],
                        "http.response.header.content-length": ["3"]}


def test_otel_propagators_decides_what_is_sent(target: Target, receiver: OtlpReceiver,
                                               tmp_path: Path):
    target.run("use_httpx", receiver, tmp_path, {"OTEL_PROPAGATORS": "baggage"})
    assert "httpx-ok" in _client_spans(receiver)
    [received] = target.headers_for("httpx-ok")
    assert "traceparent" not in received
    assert received["baggage"] == "tier=gold"
