"""FastAPI: trace the app created at a woven `FastAPI(...)` call site.

FastAPI releases with their own OpenTelemetry support (the `telemetry` parameter) make the
request's SERVER span and duration metric themselves once a tracer provider is set, which the
runtime does. Then that span stays the only one: the shared middleware only adds the captured
headers and the exception event to it, and FastAPI is handed the excluded-URL switches as its
`exclude` setting. Older releases get the shared middleware's own span.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from opentelemetry import trace

from .. import asgi, semconv
from ..context import HookContext

LIBRARY = "fastapi"
NATIVE_KEY = "fastapi.telemetry"  # the scope key FastAPI's own telemetry claims a request by


def configure_native(ctx: HookContext) -> None:
    """Before `FastAPI(...)`: excluded URLs reach FastAPI's own telemetry, unless the app
    passes its own `exclude`."""
    if semconv.excluded_urls(LIBRARY) is None or not _has_native(ctx.function):
        return
    telemetry = dict(ctx.kwargs.get("telemetry") or {})
    if telemetry.get("exclude") is None:
        telemetry["exclude"] = functools.partial(asgi.is_excluded, LIBRARY)
        ctx.kwargs["telemetry"] = telemetry


def instrument_app(ctx: HookContext) -> None:
    """After `FastAPI(...)`: the shared ASGI middleware goes outermost in its stack."""
    if ctx.return_value is not None:
        asgi.instrument_starlette(ctx.return_value, LIBRARY, _native_span)


@functools.cache
def _has_native(fastapi_class: Any) -> bool:
    try:
        return "telemetry" in inspect.signature(fastapi_class).parameters
    except (TypeError, ValueError):
        return False


def _native_span(scope: dict[str, Any]) -> trace.Span | None:
    """FastAPI's own span for this request; a non-recording one when FastAPI handles the
    request with its tracing off or the URL excluded; None when FastAPI does not trace."""
    if NATIVE_KEY not in scope:
        return None
    span = getattr(scope[NATIVE_KEY], "span", None)
    return span if isinstance(span, trace.Span) else trace.INVALID_SPAN
