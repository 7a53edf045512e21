"""redis: commands, pipelines and transactions of every client, sync and asyncio.

The client of the sync job is made outside the project's code (by the command that runs it):
the hooks patch redis-py's classes on import, so where a client comes from does not matter.

Tested at the newest release: redis 8.1.0, Redis on 6379.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lib_db_support import (
    assert_children,
    assert_failed,
    assert_secret_kept,
    build_app,
    duration_points,
    run_job,
)

from apps import AppsEnv, require_service
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

JOBS = '''
import asyncio

import redis.asyncio

from .support import SECRET, failing


def redis_job(client):
    client.set("cacheapp:key", SECRET)
    assert client.get("cacheapp:key") == SECRET.encode()
    with client.pipeline() as pipe:
        pipe.set("cacheapp:a", SECRET).set("cacheapp:b", SECRET).execute()
    with client.pipeline(transaction=False) as pipe:
        pipe.get("cacheapp:a").incr("cacheapp:counter").execute()
    failing(client.lpush, "cacheapp:key", SECRET)
    client.execute_command("AUTH", "default", SECRET)  # the default user has no password
    asyncio.run(redis_async())


async def redis_async():
    client = redis.asyncio.from_url("redis://127.0.0.1:6379/1")
    await client.set("cacheapp:async", SECRET)
    async with client.pipeline(transaction=False) as pipe:
        await pipe.get("cacheapp:async").delete("cacheapp:async").execute()
    await (client.aclose() if hasattr(client, "aclose") else client.close())  # redis < 5.0.1
'''
SERVER = {"db.system.name": "redis", "server.address": "127.0.0.1", "server.port": 6379}


@pytest.fixture(scope="module")
def cacheapp(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    apps_env.require("redis==8.1.0")
    return build_app(apps_env, tmp_path_factory, "cacheapp", JOBS, ("redis",))


def test_redis_commands_pipelines_and_asyncio(cacheapp: AppsEnv, receiver: OtlpReceiver,
                                              tmp_path: Path):
    require_service("Redis", 6379)
    parent, spans = run_job(cacheapp, receiver, tmp_path, "cacheapp", "redis_job",
                            "redis.Redis(host='127.0.0.1')", prelude="import redis")
    assert_children(parent, spans)
    assert {s.scope for s in spans} == {"hatch_otel.redis"}
    assert [(s.name, s.attributes["db.query.text"], s.attributes["db.namespace"])
            for s in spans] == [
        ("SET", "SET ? ?", "0"), ("GET", "GET ?", "0"), ("MULTI SET", "SET ? ?; SET ? ?", "0"),
        ("PIPELINE", "GET ?; INCRBY ? ?", "0"), ("LPUSH", "LPUSH ? ?", "0"),
        ("AUTH", "AUTH ? ?", "0"), ("SET", "SET ? ?", "1"), ("PIPELINE", "GET ?; DEL ?", "1")]
    _set, get, transaction, pipeline, lpush, _auth, _async_set, _async_pipeline = spans
    assert get.attributes == {**SERVER, "db.namespace": "0", "db.operation.name": "GET",
                              "db.query.text": "GET ?"}
    assert transaction.attributes["db.operation.name"] == "MULTI SET"
    assert transaction.attributes["db.operation.batch.size"] == 2
    assert pipeline.attributes["db.operation.name"] == "PIPELINE"
    assert_failed(lpush, "redis.exceptions.ResponseError", "WRONGTYPE")
    points = duration_points(receiver, "redis")
    assert {**SERVER, "db.namespace": "0", "db.operation.name": "GET"} in points
    assert {**SERVER, "db.namespace": "0", "db.operation.name": "LPUSH",
            "error.type": "redis.exceptions.ResponseError",
            "db.response.status_code": "WRONGTYPE"} in points
    assert_secret_kept(receiver)
