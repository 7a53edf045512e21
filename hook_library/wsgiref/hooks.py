"""wsgiref: wrap the application handed to `make_server(host, port, app)`."""

from __future__ import annotations

from ..context import HookContext
from ..wsgi import OtelMiddleware


def wrap_app(ctx: HookContext) -> None:
    app = ctx.get_param("app")
    if app is not None and not getattr(app, "hatch_otel_instrumented", False):
        ctx.set_param("app", OtelMiddleware(app, "wsgiref"))
