"""Celery: trace the app created at a woven `Celery(...)` call site, on both sides of the broker.

Sending goes through the app's `send_task` (what `delay` and `apply_async` call), so a traced
`send_task` covers the whole publish, failures included. Celery's signals do the rest:
`before_task_publish` names the PRODUCER span after the queue and injects its context into the
message headers; in the worker, which imports the same woven module, `task_prerun` extracts it
and opens the CONSUMER span, `task_failure` and `task_postrun` close it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from celery import Celery, signals
from opentelemetry import propagate

from .. import messaging, report, semconv
from ..context import HookContext

LIBRARY = "celery"
SYSTEM = "celery"
BROKER_PORTS = {"amqp": 5672, "pyamqp": 5672, "amqps": 5671, "librabbitmq": 5672,
                "redis": 6379, "rediss": 6379}
_running: dict[str, messaging.Operation] = {}
"""The tasks this worker runs now, by task id: task_prerun opens, task_postrun closes."""


def instrument_app(ctx: HookContext) -> None:
    """After `Celery(...)`: trace what the app sends, and listen to the worker's signals."""
    app = ctx.return_value
    if not isinstance(app, Celery) or getattr(app, "hatch_otel_instrumented", False):
        return
    app.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    app.send_task = _traced_send(app, app.send_task)  # type: ignore[method-assign]
    _connect_signals()


def _traced_send(app: Celery, send: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(send)
    def send_task(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            operation = messaging.send(LIBRARY, SYSTEM, "send", None,
                                       {"celery.task.name": name, **_broker(app)})
        except Exception:
            report.hook_failed("celery.app: send_task")
            return send(name, *args, **kwargs)
        with operation:
            return send(name, *args, **kwargs)

    return send_task


@functools.cache
def _connect_signals() -> None:
    """Celery's signals are process-wide: connected once, for every instrumented app."""
    signals.before_task_publish.connect(_publishing, weak=False)
    signals.task_prerun.connect(_task_started, weak=False)
    signals.task_failure.connect(_task_failed, weak=False)
    signals.task_postrun.connect(_task_finished, weak=False)


def _quiet(handler: Callable[..., None]) -> Callable[..., None]:
    """A signal handler that fails is reported once, never raised into Celery."""

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            handler(*args, **kwargs)
        except Exception:
            report.hook_failed(f"celery.app: {handler.__name__}")

    return guarded


@_quiet
def _publishing(sender: Any = None, headers: dict[str, Any] | None = None,
                exchange: str | None = None, routing_key: str | None = None, **_: Any) -> None:
    if not isinstance(headers, dict):
        return
    operation = messaging.current()
    if operation is None or operation.library != LIBRARY or (
            operation.attributes["messaging.operation.type"] != "send"):
        propagate.inject(headers)  # sent by an app we do not trace: the trace still goes on
        return
    destination = routing_key or exchange
    if destination:
        operation.rename(destination)
    if isinstance(headers.get("id"), str):
        operation.set("messaging.message.id", headers["id"])
    operation.inject(headers)


@_quiet
def _task_started(sender: Any = None, task_id: str | None = None, task: Any = None,
                  **_: Any) -> None:
    if task is None or task_id is None or not getattr(task.app, "hatch_otel_instrumented",
                                                      False):
        return
    request = task.request
    if request.is_eager:  # run in-process by apply(): no message travelled
        return
    attributes: dict[str, Any] = {"messaging.message.id": task_id, "celery.task.name": task.name}
    queue = (request.delivery_info or {}).get("routing_key")
    if queue:
        attributes["messaging.destination.name"] = queue
    attributes.update(_broker(task.app))
    operation = messaging.process(LIBRARY, SYSTEM, f"process {task.name}", vars(request),
                                  attributes)
    operation.activate()
    _running[task_id] = operation


@_quiet
def _task_failed(sender: Any = None, task_id: str | None = None,
                 exception: BaseException | None = None, **_: Any) -> None:
    operation = _running.get(task_id or "")
    if operation is not None and exception is not None:
        operation.fail(exception)


@_quiet
def _task_finished(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    operation = _running.pop(task_id or "", None)
    if operation is not None:
        operation.end()


def _broker(app: Celery) -> dict[str, Any]:
    """server.address and server.port of the broker (never its credentials), once per app."""
    known: dict[str, Any] | None = getattr(app, "hatch_otel_broker", None)
    if known is not None:
        return known
    url = app.conf.broker_url
    if isinstance(url, (list, tuple)):
        url = url[0] if url else None
    attributes: dict[str, Any] = {}
    if isinstance(url, str):
        url = url.split(";")[0].strip()
        attributes = semconv.server_address(url)
        scheme = url.partition("://")[0]
        if "server.address" in attributes and scheme in BROKER_PORTS:
            attributes.setdefault("server.port", BROKER_PORTS[scheme])
    app.hatch_otel_broker = attributes  # type: ignore[attr-defined]
    return attributes
