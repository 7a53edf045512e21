"""Flask: trace the app created at a woven `Flask(...)` call site.

The route and the unhandled exception come from the app's own `before_request` and
`teardown_request` callbacks rather than Flask's signals, which Flask before 2.3 offers only
when blinker happens to be installed.
"""

from __future__ import annotations

import flask

from ..context import HookContext
from ..wsgi import OtelMiddleware, set_error, set_route


def instrument_app(ctx: HookContext) -> None:
    """After `Flask(...)`: wrap its WSGI callable and learn each request's route."""
    app = ctx.return_value
    if not isinstance(app, flask.Flask) or getattr(app.wsgi_app, "hatch_otel_instrumented", False):
        return
    app.wsgi_app = OtelMiddleware(app.wsgi_app, "flask")  # type: ignore[method-assign]
    app.before_request(_route_known)
    app.teardown_request(_request_ended)


def _route_known() -> None:
    rule = flask.request.url_rule
    if rule is not None:
        set_route(flask.request.environ, rule.rule)


def _request_ended(exception: BaseException | None) -> None:
    """An exception here is one no error handler turned into a response: the 500."""
    if exception is not None:
        set_error(flask.request.environ, exception)
