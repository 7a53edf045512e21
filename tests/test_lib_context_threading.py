"""Context propagation: threads, thread pools and asyncio tasks of a woven app stay in the
trace that started them (threading and concurrent.futures from the standard library)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from hatch_otel.receiver import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.e2e

APP = '''
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


def child(label):
    pass


class Worker(threading.Thread):
    def run(self):
        child("subclass")


async def work(label):
    await asyncio.sleep(0.01)
    child(label)


async def request():
    await asyncio.gather(work("task-a"), work("task-b"))
    await asyncio.get_running_loop().run_in_executor(None, child, "executor")


def parent(pool):
    thread = threading.Thread(target=child, args=("thread",))
    thread.start()
    thread.join()
    worker = Worker()
    worker.start()
    worker.join()
    pool.submit(child, "submit").result()
    list(pool.map(child, ["map"]))


def main():
    with ThreadPoolExecutor(max_workers=1) as pool:
        parent(pool)
        pool.submit(child, "outside").result()  # the same pool thread, and no parent now
    asyncio.run(request())
'''
TABLE = '''
[[tool.hatch.build.hooks.otel.trace]]
function = "ctxthreads.app:child"
span-name = "{label}"

[[tool.hatch.build.hooks.otel.trace]]
function = "ctxthreads.app:parent"

[[tool.hatch.build.hooks.otel.trace]]
function = "ctxthreads.app:request"
'''
NAMES = ("parent", "thread", "subclass", "submit", "map", "outside", "request", "task-a",
         "task-b", "executor")


def _run(apps_env: AppsEnv, tmp_path: Path, receiver: OtlpReceiver,
         env: dict[str, str]) -> dict[str, ReceivedSpan]:
    receiver.clear()
    log = tmp_path / "app.log"
    with running(apps_env, ["-c", "from ctxthreads.app import main; main()"], receiver, env,
                 log) as process:
        assert process.wait(timeout=30) == 0, log.read_text()
    spans = receiver.wait_for_spans(lambda s: {x.name for x in s} >= set(NAMES))
    return {s.name: s for s in spans}


def test_threads_pools_and_tasks_keep_the_parent_span(apps_env: AppsEnv, tmp_path: Path,
                                                       receiver: OtlpReceiver):
    project = write_project(tmp_path / "project", "ctxthreads",
                            {"__init__.py": "", "app.py": APP}, otel_table=TABLE)
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)

    spans = _run(apps_env, tmp_path, receiver, {})
    parent, request = spans["parent"], spans["request"]
    for name in ("thread", "subclass", "submit", "map"):
        assert (spans[name].trace_id, spans[name].parent_span_id) == (
            parent.trace_id, parent.span_id), name
    assert spans["outside"].parent_span_id is None
    for name in ("task-a", "task-b", "executor"):
        assert (spans[name].trace_id, spans[name].parent_span_id) == (
            request.trace_id, request.span_id), name

    switched_off = _run(apps_env, tmp_path, receiver,
                        {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "threading"})
    for name in ("thread", "subclass", "submit", "map", "executor"):
        assert switched_off[name].parent_span_id is None, name
    for name in ("task-a", "task-b"):  # asyncio copies the context by itself
        assert switched_off[name].parent_span_id == switched_off["request"].span_id
