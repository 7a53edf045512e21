"""Celery against the real RabbitMQ: a woven app sends tasks, a real worker process runs them,
and the receiver sees one trace from the sender through the broker into the task.

Tested at celery 5.7.0, the newest release (tests/lowest_versions.py runs it at the lowest).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, require_service, running, write_project
from hatch_otel.receiver import OtlpReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.services]

CELERY = "celery==5.7.0"

TASKS = '''
import os

from celery import Celery
from kombu import Queue

QUEUE = os.environ["QUEUE"]

app = Celery("mqcelery", broker="amqp://guest:guest@127.0.0.1:5672//")
app.conf.update(task_default_queue=QUEUE, task_queues=[Queue(QUEUE, auto_delete=True)],
                broker_connection_retry_on_startup=True)


def telemetry_started():
    """Traced (see TABLE): the runtime's first span sets the SDK up, here in the worker before
    it forks its pool, so each forked child must export on its own (see ForkSafeExport)."""


telemetry_started()


def adding(x, y):
    return x + y


@app.task
def add(x, y):
    return adding(x, y)


@app.task
def fail():
    raise ValueError("no luck")
'''

SEND = '''
from mqcelery.tasks import add, fail


def checkout():
    return add.delay(2, 3).id, fail.apply_async(countdown=0).id


def main():
    print("sent", *checkout(), flush=True)
'''

TABLE = '''
[[tool.hatch.build.hooks.otel.trace]]
function = "mqcelery.tasks:telemetry_started"

[[tool.hatch.build.hooks.otel.trace]]
function = "mqcelery.tasks:adding"

[[tool.hatch.build.hooks.otel.trace]]
function = "mqcelery.send:checkout"
'''


def _wait_for_line(log: Path, text: str, process: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline and process.poll() is None, log.read_text()  # type: ignore[attr-defined]
        time.sleep(0.1)


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_task_continues_the_senders_trace_in_the_worker(apps_env: AppsEnv, tmp_path: Path,
                                                          receiver: OtlpReceiver, pool: str):
    """prefork, Celery's default pool, runs the tasks in processes forked from the worker."""
    require_service("RabbitMQ", 5672)
    apps_env.require(CELERY)
    project = write_project(tmp_path / "project", "mqcelery",
                            {"__init__.py": "", "tasks.py": TASKS, "send.py": SEND},
                            dependencies=("celery",), otel_table=TABLE)
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)
    queue = f"hatch-otel-celery-{uuid.uuid4().hex[:8]}"
    env = {"QUEUE": queue}
    worker_log, send_log = tmp_path / "worker.log", tmp_path / "send.log"
    worker_args = ["-m", "celery", "-A", "mqcelery.tasks", "worker", f"--pool={pool}", "-c", "1",
                   "-Q", queue,
                   "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "info"]
    with running(apps_env, worker_args, receiver, env, worker_log) as worker:
        _wait_for_line(worker_log, " ready.", worker)
        with running(apps_env, ["-c", "from mqcelery.send import main; main()"], receiver, env,
                     send_log) as sender:
            assert sender.wait(timeout=30) == 0, send_log.read_text()
        spans = receiver.wait_for_spans(
            lambda s: sum(x.kind == "CONSUMER" for x in s) == 2 and
            any(x.name == "adding" for x in s), timeout=20)
        metrics = receiver.wait_for_metrics(lambda ms: {
            "messaging.client.operation.duration", "messaging.client.sent.messages",
            "messaging.process.duration", "messaging.client.consumed.messages"} <= {
            m.name for m in ms}, timeout=20)
    add_id, fail_id = send_log.read_text().split()[1:3]

    by_id = {s.span_id: s for s in spans}
    checkout = next(s for s in spans if s.name == "checkout")
    producers = {s.attributes["messaging.message.id"]: s for s in spans if s.kind == "PRODUCER"}
    consumers = {s.attributes["messaging.message.id"]: s for s in spans if s.kind == "CONSUMER"}
    assert set(producers) == set(consumers) == {add_id, fail_id}
    for task_id, task_name in ((add_id, "mqcelery.tasks.add"), (fail_id, "mqcelery.tasks.fail")):
        producer, consumer = producers[task_id], consumers[task_id]
        assert (producer.name, producer.scope) == (f"send {queue}", "hatch_otel.celery")
        assert producer.parent_span_id == checkout.span_id
        assert consumer.name == f"process {task_name}"
        assert consumer.parent_span_id == producer.span_id
        assert consumer.trace_id == producer.trace_id == checkout.trace_id
        assert [link.span_id for link in consumer.links] == [producer.span_id]
        for span, operation in ((producer, "send"), (consumer, "process")):
            assert span.attributes["messaging.system"] == "celery"
            assert span.attributes["messaging.operation.type"] == operation
            assert span.attributes["messaging.destination.name"] == queue
            assert span.attributes["celery.task.name"] == task_name
            assert span.attributes["server.address"] == "127.0.0.1"
            assert span.attributes["server.port"] == 5672
        assert producer.resource["service.name"] == consumer.resource["service.name"]
    adding = next(s for s in spans if s.name == "adding")
    assert by_id[adding.parent_span_id or ""] is consumers[add_id]
    assert consumers[add_id].status_code == "UNSET"
    failed = consumers[fail_id]
    assert failed.status_code == "ERROR"
    assert failed.attributes["error.type"] == "ValueError"
    assert [e.name for e in failed.events] == ["exception"]

    units = {m.name: m.unit for m in metrics}
    assert units["messaging.client.operation.duration"] == units[
        "messaging.process.duration"] == "s"
    assert units["messaging.client.consumed.messages"] == "{message}"
