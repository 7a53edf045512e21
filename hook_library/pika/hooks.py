"""pika: trace `basic_publish` and the callbacks of `basic_consume`, on every adapter.

The core `pika.channel.Channel` serves every connection adapter; `BlockingChannel` wraps one and
publishes and consumes through it. Both classes are patched the same way: the outer layer traces
the operation and keeps the inner one quiet (one span per operation), and a blocking consumer's
span covers the application's callback, which BlockingChannel calls later than the core channel
hands it the message. The publisher's context travels in the message's `headers` property.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import messaging, report, semconv

LIBRARY = "pika"
SYSTEM = "rabbitmq"
ANONYMOUS_QUEUE_PREFIX = "amq.gen-"
"""Server-named queues: their names stay out of span names (one name per consumer otherwise)."""

OnMessage = Callable[[Any, Any, Any, bytes], Any]


def instrument_channel(module: ModuleType) -> None:
    """On import of `pika.channel`: the channel every adapter uses."""
    _patch(module.Channel)


def instrument_blocking_channel(module: ModuleType) -> None:
    """On import of `pika.adapters.blocking_connection`: BlockingConnection's channel."""
    _patch(module.BlockingChannel)


def _patch(channel_class: type) -> None:
    if channel_class.__dict__.get("hatch_otel_instrumented", False):
        return
    channel_class.basic_publish = _traced_publish(channel_class.basic_publish)  # type: ignore[attr-defined]
    channel_class.basic_consume = _traced_consume(channel_class.basic_consume)  # type: ignore[attr-defined]
    channel_class.hatch_otel_instrumented = True  # type: ignore[attr-defined]


def _traced_publish(publish: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(publish)
    def basic_publish(self: Any, exchange: str, routing_key: str, body: bytes,
                      properties: Any = None, mandatory: bool = False) -> None:
        if not semconv.suppressed("messaging"):
            try:
                operation, properties = _publishing(self, exchange, routing_key, properties)
            except Exception:
                report.hook_failed("pika: basic_publish")
            else:
                with operation, semconv.suppressing("messaging"):
                    return publish(self, exchange=exchange, routing_key=routing_key, body=body,
                                   properties=properties, mandatory=mandatory)
        return publish(self, exchange=exchange, routing_key=routing_key, body=body,
                       properties=properties, mandatory=mandatory)

    return basic_publish


def _publishing(channel: Any, exchange: str, routing_key: str,
                properties: Any) -> tuple[messaging.Operation, Any]:
    """The PRODUCER span, and a copy of the properties whose headers carry its context (the
    caller's properties object is left as it was)."""
    from pika import spec

    attributes = _server(channel)
    if routing_key:
        attributes["messaging.rabbitmq.destination.routing_key"] = routing_key
    attributes.update(_message(properties))
    operation = messaging.send(LIBRARY, SYSTEM, "publish",
                               destination(exchange, routing_key) or "amq.default", attributes)
    properties = copy.copy(properties) if properties is not None else spec.BasicProperties()
    headers = dict(properties.headers or {})
    operation.inject(headers)
    properties.headers = headers
    return operation, properties


def _traced_consume(consume: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(consume)
    def basic_consume(self: Any, queue: str, on_message_callback: OnMessage | None,
                      *args: Any, **kwargs: Any) -> str:
        if semconv.suppressed("messaging") or not callable(on_message_callback):
            return consume(self, queue, on_message_callback, *args, **kwargs)
        with semconv.suppressing("messaging"):
            return consume(self, queue, _traced_callback(queue, on_message_callback),
                           *args, **kwargs)

    return basic_consume


def _traced_callback(queue: str, callback: OnMessage) -> OnMessage:
    @functools.wraps(callback)
    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> Any:
        try:
            operation = _processing(channel, queue, method, properties)
        except Exception:
            report.hook_failed("pika: message delivery")
            return callback(channel, method, properties, body)
        with operation:
            return callback(channel, method, properties, body)

    return on_message


def _processing(channel: Any, queue: str, method: Any, properties: Any) -> messaging.Operation:
    exchange = getattr(method, "exchange", "") or ""
    routing_key = getattr(method, "routing_key", "") or ""
    attributes = _server(channel)
    attributes["messaging.destination.name"] = destination(exchange, routing_key, queue) or queue
    if routing_key:
        attributes["messaging.rabbitmq.destination.routing_key"] = routing_key
    if isinstance(getattr(method, "delivery_tag", None), int):
        attributes["messaging.rabbitmq.message.delivery_tag"] = method.delivery_tag
    attributes.update(_message(properties))
    named = queue
    if queue.startswith(ANONYMOUS_QUEUE_PREFIX):
        attributes["messaging.destination.anonymous"] = True
        named = ""
    name = messaging.span_name("process", destination(exchange, routing_key, named))
    return messaging.process(LIBRARY, SYSTEM, name, getattr(properties, "headers", None),
                             attributes)


def destination(exchange: str, routing_key: str, queue: str = "") -> str:
    """`{exchange}:{routing key}` (a consumer adds `:{queue}` unless it is the routing key),
    leaving out the parts that are empty, as the RabbitMQ conventions name destinations."""
    parts = [exchange, routing_key]
    if queue and queue != routing_key:
        parts.append(queue)
    return ":".join(part for part in parts if part)


def _message(properties: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    message_id = getattr(properties, "message_id", None)
    if message_id:
        attributes["messaging.message.id"] = str(message_id)
    correlation_id = getattr(properties, "correlation_id", None)
    if correlation_id:
        attributes["messaging.message.conversation_id"] = str(correlation_id)
    return attributes


def _server(channel: Any) -> dict[str, Any]:
    """The broker this channel's connection talks to (never its credentials)."""
    core = getattr(channel, "_impl", channel)  # a BlockingChannel's core channel
    params = getattr(getattr(core, "connection", None), "params", None)
    attributes: dict[str, Any] = {}
    host, port = getattr(params, "host", None), getattr(params, "port", None)
    if isinstance(host, str) and host:
        attributes["server.address"] = host
    if isinstance(port, int):
        attributes["server.port"] = port
    return attributes
