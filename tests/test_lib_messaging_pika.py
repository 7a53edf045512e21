"""pika against the real RabbitMQ: a woven app publishes and consumes, the receiver sees one
trace from the publisher through the broker into the consumer's callback.

Tested at pika 1.4.4, the newest release (tests/lowest_versions.py runs it at the lowest).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, require_service, running, write_project
from hatch_otel.receiver import OtlpReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.services]

PIKA = "pika==1.4.4"

APP = '''
import os

import pika

QUEUE = os.environ["QUEUE"]
PARAMETERS = pika.ConnectionParameters(
    "127.0.0.1", 5672, credentials=pika.PlainCredentials("guest", "guest"))


def checkout(channel, properties):
    channel.basic_publish("", QUEUE, b"order-1", properties)
    channel.basic_publish(exchange="", routing_key=QUEUE, body=b"boom")


def checkout_one(channel):
    channel.basic_publish("", QUEUE, b"order-2")


def handle(body):
    if body == b"boom":
        raise ValueError("cannot handle boom")


def main():
    connection = pika.BlockingConnection(PARAMETERS)
    channel = connection.channel()
    channel.queue_declare(QUEUE, auto_delete=True)
    received = []

    def on_message(ch, method, properties, body):
        received.append(body)
        ch.basic_ack(method.delivery_tag)
        handle(body)

    channel.basic_consume(QUEUE, on_message)
    properties = pika.BasicProperties(message_id="m-1", correlation_id="c-1")
    checkout(channel, properties)
    print("caller's headers:", properties.headers, flush=True)
    while len(received) < 2:
        try:
            connection.process_data_events(time_limit=1)
        except ValueError:
            pass
    connection.close()


def main_select():
    def on_open(connection):
        connection.channel(on_open_callback=on_channel)

    def on_channel(channel):
        channel.queue_declare(QUEUE, auto_delete=True, callback=lambda _: on_declared(channel))

    def on_declared(channel):
        channel.basic_consume(QUEUE, on_message)
        checkout_one(channel)

    def on_message(channel, method, properties, body):
        channel.basic_ack(method.delivery_tag)
        handle(body)
        channel.connection.close()

    connection = pika.SelectConnection(PARAMETERS, on_open_callback=on_open,
                                       on_close_callback=lambda *_: connection.ioloop.stop())
    connection.ioloop.start()
'''
TABLE = '''
[[tool.hatch.build.hooks.otel.trace]]
function = "mqpika.app:checkout*"

[[tool.hatch.build.hooks.otel.trace]]
function = "mqpika.app:handle"
'''


@pytest.fixture(scope="module")
def installed(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory) -> AppsEnv:
    require_service("RabbitMQ", 5672)
    apps_env.require(PIKA)
    root = tmp_path_factory.mktemp("mqpika")
    project = write_project(root / "project", "mqpika", {"__init__.py": "", "app.py": APP},
                            dependencies=("pika",), otel_table=TABLE)
    wheel, _ = build_wheel(project, root / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


def _run(apps_env: AppsEnv, main: str, tmp_path: Path, receiver: OtlpReceiver) -> tuple[str, str]:
    """Runs `mqpika.app.<main>()` on a queue of its own; returns the queue and the output."""
    queue = f"hatch-otel-pika-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "app.log"
    with running(apps_env, ["-c", f"from mqpika.app import {main}; {main}()"], receiver,
                 {"QUEUE": queue}, log) as process:
        assert process.wait(timeout=30) == 0, log.read_text()
    return queue, log.read_text()


def test_publish_and_consume_share_one_trace(installed: AppsEnv, tmp_path: Path,
                                             receiver: OtlpReceiver):
    queue, output = _run(installed, "main", tmp_path, receiver)
    assert "caller's headers: None" in output  # the app's properties stay untouched

    spans = receiver.wait_for_spans(lambda s: sum(x.name == "handle" for x in s) == 2)
    by_id = {s.span_id: s for s in spans}
    checkout = next(s for s in spans if s.name == "checkout")
    producers = [s for s in spans if s.kind == "PRODUCER"]
    consumers = [s for s in spans if s.kind == "CONSUMER"]
    assert len(producers) == len(consumers) == 2  # the blocking layer over the core: one each
    for producer in producers:
        assert (producer.name, producer.scope) == (f"publish {queue}", "hatch_otel.pika")
        assert producer.parent_span_id == checkout.span_id
        assert producer.attributes["messaging.system"] == "rabbitmq"
        assert producer.attributes["messaging.operation.type"] == "send"
        assert producer.attributes["messaging.operation.name"] == "publish"
        assert producer.attributes["messaging.destination.name"] == queue
        assert producer.attributes["messaging.rabbitmq.destination.routing_key"] == queue
        assert producer.attributes["server.address"] == "127.0.0.1"
        assert producer.attributes["server.port"] == 5672
    first = next(p for p in producers if "messaging.message.id" in p.attributes)
    assert first.attributes["messaging.message.id"] == "m-1"
    assert first.attributes["messaging.message.conversation_id"] == "c-1"

    for consumer in consumers:
        producer = by_id[consumer.parent_span_id or ""]
        assert producer.kind == "PRODUCER"
        assert consumer.trace_id == producer.trace_id == checkout.trace_id
        assert [(link.trace_id, link.span_id) for link in consumer.links] == [
            (producer.trace_id, producer.span_id)]
        assert consumer.name == f"process {queue}"  # routing key and queue are one name
        assert consumer.attributes["messaging.operation.type"] == "process"
        assert consumer.attributes["messaging.destination.name"] == queue
        assert isinstance(consumer.attributes["messaging.rabbitmq.message.delivery_tag"], int)
        handle = next(s for s in spans if s.name == "handle" and
                      s.parent_span_id == consumer.span_id)
        assert handle.trace_id == checkout.trace_id
    failed = next(c for c in consumers if c.status_code == "ERROR")
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.attributes["error.type"] == "ValueError"
    assert by_id[failed.parent_span_id or ""].attributes.get("messaging.message.id") is None

    metrics = receiver.wait_for_metrics(lambda ms: {
        "messaging.client.operation.duration", "messaging.client.sent.messages",
        "messaging.process.duration", "messaging.client.consumed.messages"} <= {
        m.name for m in ms})
    units = {m.name: m.unit for m in metrics}
    assert units["messaging.client.operation.duration"] == units[
        "messaging.process.duration"] == "s"
    assert units["messaging.client.sent.messages"] == "{message}"
    sent = next(m for m in metrics if m.name == "messaging.client.sent.messages")
    assert sent.points[0].attributes["messaging.destination.name"] == queue


def test_the_core_channel_of_the_asynchronous_adapters(installed: AppsEnv, tmp_path: Path,
                                                       receiver: OtlpReceiver):
    queue, _ = _run(installed, "main_select", tmp_path, receiver)
    spans = receiver.wait_for_spans(lambda s: any(x.name == "handle" for x in s))
    checkout, handle = (next(s for s in spans if s.name == name)
                        for name in ("checkout_one", "handle"))
    producer, consumer = (next(s for s in spans if s.kind == kind)
                          for kind in ("PRODUCER", "CONSUMER"))
    assert len(spans) == 4
    assert (producer.name, producer.parent_span_id) == (f"publish {queue}", checkout.span_id)
    assert (consumer.name, consumer.parent_span_id) == (f"process {queue}", producer.span_id)
    assert handle.parent_span_id == consumer.span_id
    assert len({s.trace_id for s in spans}) == 1
