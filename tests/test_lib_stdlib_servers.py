"""http.server and wsgiref apps, built through the hook and checked at the OTLP receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from e2e import free_port, get, wait_for_http
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

HANDLER_APP = '''
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if self.path.startswith("/busy") else 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass


def main():
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
'''

WSGI_APP = '''
import os
from wsgiref.simple_server import make_server, WSGIRequestHandler


def app(environ, start_response):
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"made"]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    make_server("127.0.0.1", int(os.environ["PORT"]), app, handler_class=Quiet).serve_forever()
'''


def _serve(apps_env: AppsEnv, tmp_path: Path, source: str, collector: OtlpReceiver,
           path: str) -> tuple[int, str]:
    project = write_project(tmp_path / "project", "stdserver",
                            {"__init__.py": "", "server.py": source})
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)
    port = free_port()
    log = tmp_path / "server.log"
    with running(apps_env, ["-c", "from stdserver.server import main; main()"], collector,
                 {"PORT": str(port)}, log) as process:
        wait_for_http(f"http://127.0.0.1:{port}/", process, log)
        collector.clear()
        return get(f"http://127.0.0.1:{port}{path}", {"User-Agent": "lib-test"})


def _span_for(collector: OtlpReceiver, path: str) -> ReceivedSpan:
    spans = collector.wait_for_spans(lambda s: any(x.attributes["url.path"] == path for x in s))
    return next(x for x in spans if x.attributes["url.path"] == path)


def test_http_server_handlers_get_server_spans(apps_env: AppsEnv, tmp_path: Path,
                                               receiver: OtlpReceiver):
    status, _ = _serve(apps_env, tmp_path, HANDLER_APP, receiver, "/busy?token=abc")
    assert status == 503
    span = _span_for(receiver, "/busy")
    assert (span.name, span.kind, span.scope) == ("GET", "SERVER", "hatch_otel.http.server")
    assert span.attributes["url.path"] == "/busy"
    assert span.attributes["url.query"] == "token=REDACTED"
    assert span.attributes["http.response.status_code"] == 503
    assert span.attributes["error.type"] == "503"
    assert span.attributes["user_agent.original"] == "lib-test"
    assert span.status_code == "ERROR"


def test_wsgiref_apps_get_server_spans(apps_env: AppsEnv, tmp_path: Path,
                                       receiver: OtlpReceiver):
    status, body = _serve(apps_env, tmp_path, WSGI_APP, receiver, "/make")
    assert (status, body) == (201, "made")
    span = _span_for(receiver, "/make")
    assert (span.name, span.kind, span.scope) == ("GET", "SERVER", "hatch_otel.wsgiref")
    assert span.attributes["url.path"] == "/make"
    assert span.attributes["http.response.status_code"] == 201
    assert span.status_code == "UNSET"
