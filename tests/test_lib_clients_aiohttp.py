"""aiohttp client: one CLIENT span per ClientSession request, the redirects it follows inside.

Tested at the newest release: aiohttp 3.14.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lib_clients_support import (
    FOLLOWED,
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


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    apps_env.require("aiohttp==3.14.5")
    with serving_app(apps_env, tmp_path_factory.mktemp("clients_aiohttp"), "clients_aiohttp",
                     CALLS, dependencies=("aiohttp",)) as serving:
        yield serving


def test_client_session_requests(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path)
    found = check(target, receiver, outcomes(
        "aiohttp-client", "aiohttp", "aiohttp.client_exceptions.ClientConnectorError", FOLLOWED),
        credentials=("aiohttp-ok",))
    same_span(target, found["aiohttp-redirect"], "aiohttp-redirect-hop")


def test_disabled_by_its_name(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "aiohttp-client"})
    nothing_traced(target, receiver)
