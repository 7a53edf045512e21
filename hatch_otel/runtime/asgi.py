"""An ASGI middleware producing one SERVER span and one duration measurement per HTTP request.

Shared by the ASGI hooks (Starlette, FastAPI, Django's ASGI handler): the first middleware on
the request claims it through the scope, so layered hooks (a Starlette app mounted in another,
Django behind a traced router) enrich one span instead of doubling it. Lifespan and WebSocket
scopes pass through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

from opentelemetry import context, trace

from . import report, semconv
from .wsgi import CALL_KEY, set_error, set_route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RouteOf = Callable[[Scope], str | None]
ClaimedBy = Callable[[Scope], trace.Span | None]
__all__ = ["OtelAsgiMiddleware", "instrument_starlette", "is_excluded", "set_error", "set_route"]


class OtelAsgiMiddleware:
    """Wraps an ASGI 3 application; marks itself so it is never applied twice.

    `route_of(scope)` gives the route template before the app runs (None: unknown, e.g. 404).
    `claimed_by(scope)` gives the SERVER span a framework's own telemetry already made for this
    request (FastAPI's): then no second span is made, that one only gets the captured headers,
    the query redacted like ours and the exception event.
    """

    hatch_otel_instrumented = True

    def __init__(self, app: AsgiApp, library: str, route_of: RouteOf | None = None,
                 claimed_by: ClaimedBy | None = None) -> None:
        self.app = app
        self.library = library
        self.route_of = route_of
        self.claimed_by = claimed_by

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or CALL_KEY in scope or is_excluded(self.library, scope):
            return await self.app(scope, receive, send)
        outer = self.claimed_by(scope) if self.claimed_by is not None else None
        if outer is not None:
            return await self._enrich(outer, scope, receive, send)
        call = semconv.ServerCall.start(
            self.library, scope.get("method", "GET"),
            semconv.headers_by_name(_headers(scope.get("headers") or ())),
            scheme=scope.get("scheme", "http"), path=scope.get("path", "/"),
            query=scope.get("query_string", b"").decode("latin-1"),
            client=(scope.get("client") or (None,))[0],
            protocol=scope.get("http_version"), server=_server(scope.get("server")))
        if call is None:
            return await self.app(scope, receive, send)
        scope[CALL_KEY] = call
        self._set_route(call, scope)

        async def traced_send(message: Message) -> None:
            if message.get("type") == "http.response.start":
                call.respond(message.get("status", 0), message.get("headers") or ())
            await send(message)

        token = call.activate()
        try:
            await self.app(scope, receive, traced_send)
        except BaseException as exc:
            call.finish(exc)
            raise
        else:
            call.finish()
        finally:
            context.detach(token)

    def _set_route(self, call: semconv.ServerCall, scope: Scope) -> None:
        if self.route_of is None:
            return
        try:
            route = self.route_of(scope)
        except Exception:
            report.hook_failed(f"{self.library}: route lookup")
            return
        if route:
            call.set_route(route)

    async def _enrich(self, span: trace.Span, scope: Scope, receive: Receive,
                      send: Send) -> None:
        attributes: dict[str, Any] = semconv.header_attributes("server", "request",
                                                               scope.get("headers") or ())
        query = scope.get("query_string", b"")
        if query:  # redacted as every other hatch-otel server redacts it
            attributes["url.query"] = semconv.redact_query(query.decode("latin-1"))
        if attributes:
            span.set_attributes(attributes)
        if not semconv.captures_headers("server", "response"):
            return await self.app(scope, receive, send)

        async def traced_send(message: Message) -> None:
            if message.get("type") == "http.response.start":
                span.set_attributes(semconv.header_attributes(
                    "server", "response", message.get("headers") or ()))
            await send(message)

        await self.app(scope, receive, traced_send)


class _ExceptionEvents:
    """Just inside an app's error handler: the exception event goes on the framework's own
    span before the handler's 500 response ends that span."""

    def __init__(self, app: AsgiApp, claimed_by: ClaimedBy) -> None:
        self.app = app
        self.claimed_by = claimed_by

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            span = self.claimed_by(scope) if scope.get("type") == "http" else None
            if span is not None:
                span.record_exception(exc)
            raise


def is_excluded(library: str, scope: Scope) -> bool:
    """Whether OTEL_PYTHON_<LIB>_EXCLUDED_URLS (or OTEL_PYTHON_EXCLUDED_URLS) names this request."""
    query = scope.get("query_string", b"")
    path: str = scope.get("path", "/")
    return semconv.is_excluded(library, path + (f"?{query.decode('latin-1')}" if query else ""))


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[str, str]]:
    for name, value in raw:
        yield name.decode("latin-1"), value.decode("latin-1")


def _server(address: Sequence[Any] | None) -> tuple[str, int | None] | None:
    """The listening (host, port); a Unix socket's (path, None) names no address."""
    if not address or address[0] is None:
        return None
    return str(address[0]), address[1] if len(address) > 1 else None


# -- Starlette and FastAPI -----------------------------------------------------------------------
OTHER_MIDDLEWARES = ("starlette.middleware.opentelemetry", "opentelemetry.instrumentation.asgi")


def instrument_starlette(app: Any, library: str, claimed_by: ClaimedBy | None = None) -> None:
    """Trace a Starlette (or FastAPI) app: the middleware goes outermost in the stack the app
    builds on its first request, outside its error handler, so a 500 and its exception are
    both seen (a framework's own span, which that 500 ends, gets its exception event from just
    inside the handler). A stack that already holds another OpenTelemetry ASGI middleware
    (Starlette's own, or opentelemetry-instrumentation-asgi) is left to it."""
    if getattr(app, "hatch_otel_instrumented", False):
        return
    build = app.build_middleware_stack

    def build_middleware_stack() -> Any:
        stack = build()
        if _has_other_middleware(stack):
            return stack
        if claimed_by is not None and type(stack).__name__ == "ServerErrorMiddleware":
            stack.app = _ExceptionEvents(stack.app, claimed_by)
        return OtelAsgiMiddleware(stack, library, lambda scope: starlette_route(app.routes, scope),
                                  claimed_by)

    app.build_middleware_stack = build_middleware_stack
    app.hatch_otel_instrumented = True


def _has_other_middleware(stack: Any) -> bool:
    seen: set[int] = set()
    while stack is not None and id(stack) not in seen:
        seen.add(id(stack))
        if type(stack).__module__ in OTHER_MIDDLEWARES:
            return True
        stack = getattr(stack, "app", None)
    return False


def starlette_route(routes: Sequence[Any], scope: Scope) -> str | None:
    """The template of the route the router will pick (`/items/{item_id}`, mounts joined);
    a method mismatch (405) still names its route; None when nothing matches (404)."""
    from starlette.routing import Match  # type: ignore[import-not-found,unused-ignore]

    partial: tuple[Any, Scope] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return _template(route, {**scope, **child})
        if match is Match.PARTIAL and partial is None:
            partial = (route, child)
    return _template(partial[0], {**scope, **partial[1]}) if partial else None


def _template(route: Any, scope: Scope) -> str | None:
    path: str | None = getattr(route, "path", None)  # a Host route has none
    nested = getattr(route, "routes", None)  # a Mount of a router or app
    if nested:
        inner = starlette_route(nested, scope)
        if inner is not None:
            return (path or "") + inner
    return path
