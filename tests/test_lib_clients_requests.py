"""requests: one CLIENT span per request, over urllib3 and http.client (both instrumented too).

A Session made before the instrumentation loaded and a direct `requests.get` are both traced.
Tested at the newest release: requests 2.34.2 (with the urllib3 it resolves, 2.8.0 today).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lib_clients_support import (
    CAPTURE,
    HOPS,
    Target,
    check,
    client_spans,
    outcomes,
    serving_app,
)

from apps import AppsEnv
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

CALLS = '''
import http.client  # noqa: F401 -- the http.client hooks are selected too: three layers

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
EARLY = {"setup": "import requests\nearly = requests.Session()", "main_args": "early"}


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    apps_env.require("requests==2.34.2")
    with serving_app(apps_env, tmp_path_factory.mktemp("clients_requests"), "clients_requests",
                     CALLS, dependencies=("requests", "urllib3")) as serving:
        yield serving


def test_one_span_per_request_over_urllib3_and_http_client(
        target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path, **EARLY)
    check(target, receiver, {
        **outcomes("requests", "requests", "requests.exceptions.ConnectionError", HOPS),
        "direct-ok": ("requests", 200),
    }, credentials=("requests-ok",))


def test_disabling_requests_leaves_urllib3_to_trace_it(target: Target, receiver: OtlpReceiver,
                                                        tmp_path: Path):
    target.run(receiver, tmp_path, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests"}, **EARLY)
    check(target, receiver, {
        **outcomes("urllib3", "requests", "urllib3.exceptions.MaxRetryError", HOPS),
        "direct-ok": ("urllib3", 200),
    })


def test_headers_are_captured_only_when_asked_and_sanitized(
        target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path, {
        CAPTURE + "CLIENT_REQUEST": "X-Request-Id,authorization",
        CAPTURE + "CLIENT_RESPONSE": "x-served-by,content-.*",
        CAPTURE + "SANITIZE_FIELDS": "Authorization",
    }, **EARLY)
    [span] = client_spans(receiver)["requests-ok"]
    captured = {k: v for k, v in span.attributes.items() if ".header." in k}
    assert captured == {"http.request.header.x-request-id": ["r-1"],
                        "http.request.header.authorization": ["[REDACTED]"],
                        "http.response.header.x-served-by": ["recorder"],
                        "http.response.header.content-length": ["3"]}
