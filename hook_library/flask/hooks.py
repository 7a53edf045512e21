"""Flask: trace the app created at a woven `Flask(...)` call site.

The route is read from the request as the response starts, and the unhandled exception comes
from the app's own `teardown_request` callback rather than Flask's signals, which Flask before
2.3 offers only when blinker happens to be installed.
"""

from __future__ import annotations

from typing import Any

import flask

from ..context import HookContext
from ..wsgi import OtelMiddleware, set_error, set_route


def instrument_app(ctx: HookContext) -> None:
    """After `Flask(...)`: wrap its WSGI callable and learn each request's route."""
    app = ctx.return_value
    if not isinstance(app, flask.Flask) or getattr(app.wsgi_app, "hatch_otel_instrumented", False):
        return
    app.wsgi_app = OtelMiddleware(app.wsgi_app, "flask", _route)  # type: ignore[method-assign]
    app.teardown_request(_request_ended)


def _route(environ: dict[str, Any]) -> str | None:
    """The URL rule of the request (werkzeug keeps it in the environ while it is current): no
    callback of the app runs for it, on any request."""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    return None if rule is None else str(rule.rule)


def _request_ended(exception: BaseException | None) -> None:
    """An exception here is one no error handler turned into a response: the 500, or one that
    propagates, which starts no response and so is named after its route here."""
    if exception is not None:
        environ = flask.request.environ
        set_error(environ, exception)
        route = _route(environ)
        if route:
            set_route(environ, route)
