"""urllib.request and http.client: the project's urlopen calls, openers and connections.

The app's `urlopen` call sites are woven (urllib spans, one per call, redirects inside, with
http.client quiet under them); the opener and the connection it uses directly are reached by
the http.client import hook (one span per request sent, each redirect hop its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lib_clients_support import (
    FOLLOWED,
    HOPS,
    Target,
    check,
    nothing_traced,
    outcomes,
    same_span,
    serving_app,
)

from apps import AppsEnv
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

CALLS = '''
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

OPENER_AND_CONNECTION = {
    **outcomes("http.client", "opener", "ConnectionRefusedError", HOPS),
    "connection-ok": ("http.client", 200),
}


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with serving_app(apps_env, tmp_path_factory.mktemp("clients_stdlib"), "clients_stdlib",
                     CALLS) as serving:
        yield serving


def test_urlopen_call_sites_and_http_client_connections(target: Target, receiver: OtlpReceiver,
                                                        tmp_path: Path):
    target.run(receiver, tmp_path)
    found = check(target, receiver, {
        **outcomes("urllib", "urlopen", "urllib.error.URLError", FOLLOWED),
        **OPENER_AND_CONNECTION,
    })
    same_span(target, found["urlopen-redirect"], "urlopen-redirect-hop")


def test_disabling_urllib_leaves_http_client_to_trace_urlopen(
        target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "urllib"})
    check(target, receiver, {
        **outcomes("http.client", "urlopen", "ConnectionRefusedError", HOPS),
        **OPENER_AND_CONNECTION,
    })


def test_disabling_both_traces_nothing(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "urllib, http.client"})
    nothing_traced(target, receiver)
