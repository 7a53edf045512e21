"""httpx: one CLIENT span per request sent by Client and AsyncClient, redirect hops included.

Tested at the newest release: httpx 0.28.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lib_clients_support import HOPS, Target, check, client_spans, outcomes, serving_app

from apps import AppsEnv
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

CALLS = '''
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


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    apps_env.require("httpx==0.28.1")
    with serving_app(apps_env, tmp_path_factory.mktemp("clients_httpx"), "clients_httpx",
                     CALLS, dependencies=("httpx",)) as serving:
        yield serving


def test_client_and_async_client(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path)
    check(target, receiver, {
        **outcomes("httpx", "httpx", "httpx.ConnectError", HOPS),
        **outcomes("httpx", "httpx-async", "httpx.ConnectError", HOPS),
    }, credentials=("httpx-ok", "httpx-async-ok"))


def test_otel_propagators_decides_what_is_sent(target: Target, receiver: OtlpReceiver,
                                               tmp_path: Path):
    target.run(receiver, tmp_path, {"OTEL_PROPAGATORS": "baggage"})
    assert "httpx-ok" in client_spans(receiver)
    [received] = target.headers_for("httpx-ok")
    assert "traceparent" not in received
    assert received["baggage"] == "tier=gold"
