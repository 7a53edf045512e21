"""threading and concurrent.futures: work handed to another thread stays in its trace.

OpenTelemetry's context lives in a contextvar, and a new thread starts with an empty one, so a
span made in a thread or in a pool's task would start a trace of its own. `Thread.start` and
`ThreadPoolExecutor.submit` capture the caller's context and the thread or task runs inside
it. Only the OpenTelemetry context travels, not the app's other contextvars. asyncio tasks copy
the context themselves; its `run_in_executor` goes through `submit`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from opentelemetry import context

from .. import report

T = TypeVar("T")


def carry_into_threads(module: ModuleType) -> None:
    """On import of `threading`: a thread runs in the context that started it."""
    thread = module.Thread
    if thread.__dict__.get("hatch_otel_instrumented", False):
        return
    start = thread.start

    @functools.wraps(start)
    def traced_start(self: Any) -> None:
        try:
            current = context.get_current()
            if current:  # an instance attribute: Thread subclasses' own run() is covered too
                self.run = functools.partial(call_in, current, self.run)
        except Exception:
            report.hook_failed("threading.thread: start")
        start(self)

    thread.start = traced_start
    thread.hatch_otel_instrumented = True


def carry_into_pools(module: ModuleType) -> None:
    """On import of `concurrent.futures.thread`: a submitted task runs in the submitter's
    context (always, so a pool thread never lends one task's context to the next)."""
    pool = module.ThreadPoolExecutor
    if pool.__dict__.get("hatch_otel_instrumented", False):
        return
    submit = pool.submit

    @functools.wraps(submit)
    def traced_submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if type(self).__module__ == "concurrent.futures.interpreter":
            return submit(self, fn, *args, **kwargs)  # its tasks are pickled to another interpreter
        return submit(self, call_in, context.get_current(), fn, *args, **kwargs)

    pool.submit = traced_submit
    pool.hatch_otel_instrumented = True


def call_in(ctx: context.Context, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` with `ctx` as the current context."""
    token = context.attach(ctx)
    try:
        return fn(*args, **kwargs)
    finally:
        context.detach(token)
