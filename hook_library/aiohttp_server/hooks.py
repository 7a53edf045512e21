"""aiohttp.web: trace the application created at a woven `web.Application(...)` call site.

A middleware put first (outermost) in the app's list makes the SERVER span; the request was
routed before middlewares run, so the span is named after the resource's canonical path
(`/items/{id}`) from the start. A sub-application's own middleware leaves a request already
claimed by its parent alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry import context

from .. import semconv
from ..context import HookContext

LIBRARY = "aiohttp-server"
CALL_KEY = "hatch_otel.server_call"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def instrument_app(ctx: HookContext) -> None:
    """After `web.Application(...)`."""
    app = ctx.return_value
    if isinstance(app, web.Application) and not app.frozen and trace_request not in app.middlewares:
        app.middlewares.insert(0, trace_request)


@web.middleware
async def trace_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    if CALL_KEY in request or semconv.is_excluded(LIBRARY, request.path_qs):
        return await handler(request)
    version = request.version
    call = semconv.ServerCall.start(
        LIBRARY, request.method, semconv.headers_by_name(request.headers.items()),
        scheme=request.scheme, path=request.path, query=request.query_string, client=request.remote,
        protocol=f"{version.major}.{version.minor}")
    if call is None:
        return await handler(request)
    request[CALL_KEY] = call
    resource = request.match_info.route.resource
    if resource is not None:  # None: no route matched (404, 405)
        call.set_route(resource.canonical)
    token = call.activate()
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a response raised: 404, a redirect...
        call.respond(exc.status, exc.headers.items())
        call.finish()
        raise
    except Exception as exc:  # aiohttp answers 500
        call.respond(500)
        call.finish(exc)
        raise
    except BaseException as exc:  # cancelled: the client went away, nothing is answered
        call.finish(exc)
        raise
    finally:
        context.detach(token)
    call.respond(response.status, response.headers.items())
    call.finish()
    return response
