"""urllib3: one CLIENT span per pool request (http.client, instrumented too, stays quiet); a
PoolManager's redirect hops each get their span.

Tested at the newest release: urllib3 2.8.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lib_clients_support import HOPS, Target, check, outcomes, serving_app

from apps import AppsEnv
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

CALLS = '''
import http.client  # noqa: F401 -- the http.client hooks are selected too: two layers

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


@pytest.fixture(scope="module")
def target(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    apps_env.require("urllib3==2.8.0")
    with serving_app(apps_env, tmp_path_factory.mktemp("clients_urllib3"), "clients_urllib3",
                     CALLS, dependencies=("urllib3",)) as serving:
        yield serving


def test_pool_manager_requests(target: Target, receiver: OtlpReceiver, tmp_path: Path):
    target.run(receiver, tmp_path)
    check(target, receiver,
          outcomes("urllib3", "urllib3", "urllib3.exceptions.MaxRetryError", HOPS))
