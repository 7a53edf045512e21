"""Flask: trace the app created at a woven `Flask(...)` call site."""

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
    app.wsgi_app = OtelMiddleware(app.wsgi_app, "flask")  # type: ignore[method-assign]
    flask.request_started.connect(_route_known, app, weak=False)
    flask.got_request_exception.connect(_request_failed, app, weak=False)


def _route_known(sender: Any, **_: Any) -> None:
    rule = flask.request.url_rule
    if rule is not None:
        set_route(flask.request.environ, rule.rule)


def _request_failed(sender: Any, exception: BaseException, **_: Any) -> None:
    set_error(flask.request.environ, exception)
