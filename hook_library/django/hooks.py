"""Django: trace the application made at a woven `get_wsgi_application()` or
`get_asgi_application()` call site, and name each request after its URL pattern.

The URL resolver is reached through the import join point on `django.core.handlers.base`: the
resolved `request.resolver_match.route` (`polls/<int:id>/`) names the span. Django turns a view's
exception into a 500 response itself; its `got_request_exception` signal hands the exception to
the span.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import asgi, report, wsgi
from ..context import HookContext

LIBRARY = "django"


def wrap_wsgi(ctx: HookContext) -> None:
    """After `get_wsgi_application()`: the WSGI handler, traced."""
    _wrap(ctx, lambda app: wsgi.OtelMiddleware(app, LIBRARY))


def wrap_asgi(ctx: HookContext) -> None:
    """After `get_asgi_application()`: the ASGI handler, traced."""
    _wrap(ctx, lambda app: asgi.OtelAsgiMiddleware(app, LIBRARY))


def _wrap(ctx: HookContext, middleware: Callable[[Any], Any]) -> None:
    app = ctx.return_value
    if app is not None and not getattr(app, "hatch_otel_instrumented", False):
        ctx.set_return_val(middleware(app))


def trace_routes(module: ModuleType) -> None:
    """On import of django.core.handlers.base: report each request's route and view errors."""
    from django.core.signals import got_request_exception

    handler = module.BaseHandler
    if getattr(handler.resolve_request, "hatch_otel_instrumented", False):
        return
    handler.resolve_request = _resolving(handler.resolve_request)
    got_request_exception.connect(_request_failed, weak=False, dispatch_uid="hatch_otel")


def _resolving(resolve_request: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    @functools.wraps(resolve_request)
    def traced(self: Any, request: Any) -> Any:
        match = resolve_request(self, request)
        try:
            route = getattr(match, "route", None)
            if route:
                wsgi.set_route(_environ(request), route)
        except Exception:
            report.hook_failed("django.route: naming the span")
        return match

    traced.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    return traced


def _request_failed(sender: Any, request: Any = None, **_: Any) -> None:
    """Sent inside Django's `except` block, so the exception is the one being handled."""
    exc = sys.exc_info()[1]
    if exc is not None and request is not None:
        wsgi.set_error(_environ(request), exc)


def _environ(request: Any) -> dict[str, Any]:
    """The WSGI environ of a WSGIRequest, the ASGI scope of an ASGIRequest."""
    scope = getattr(request, "scope", None)
    return scope if isinstance(scope, dict) else getattr(request, "environ", {})
