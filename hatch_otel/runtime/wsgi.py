"""A WSGI middleware producing one SERVER span and one duration measurement per request.

Shared by every WSGI hook (wsgiref, Flask, Django, gunicorn): the first middleware on the
request claims it through the environ, so layered hooks enrich one span instead of doubling it.
`set_route` and `set_error` serve the ASGI middleware's scopes alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from opentelemetry import context

from . import report, semconv

CALL_KEY = "hatch_otel.server_call"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RouteOf = Callable[[dict[str, Any]], str | None]


def set_route(environ: MutableMapping[str, Any], route: str) -> None:
    """Called by framework hooks once the route is known: names the span `{method} {route}`.
    `environ` is the request's WSGI environ or ASGI scope."""
    call = environ.get(CALL_KEY)
    if call is not None:
        call.set_route(route)


def set_error(environ: MutableMapping[str, Any], exc: BaseException) -> None:
    """Called by framework hooks that turn an exception into a 500 response themselves.
    `environ` is the request's WSGI environ or ASGI scope."""
    call = environ.get(CALL_KEY)
    if call is not None:
        call.error = exc


class OtelMiddleware:
    """Wraps a WSGI application; marks itself so it is never applied twice.

    `route_of(environ)` gives the route template as the response starts (None: unknown, e.g.
    404), for a framework whose request is still current then."""

    hatch_otel_instrumented = True

    def __init__(self, app: WsgiApp, library: str, route_of: RouteOf | None = None) -> None:
        self.app = app
        self.library = library
        self.route_of = route_of

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        excluded = semconv.excluded_urls(self.library)
        if CALL_KEY in environ or (excluded is not None and excluded.search(_url(environ))):
            return self.app(environ, start_response)
        call = semconv.ServerCall.start(
            self.library, environ.get("REQUEST_METHOD", "GET"), _EnvironHeaders(environ),
            scheme=environ.get("wsgi.url_scheme", "http"),
            path=environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/"),
            query=environ.get("QUERY_STRING", ""), client=environ.get("REMOTE_ADDR"),
            protocol=_protocol(environ.get("SERVER_PROTOCOL")), server=_server(environ))
        if call is None:
            return self.app(environ, start_response)
        environ[CALL_KEY] = call
        route_of = self.route_of

        def traced_start_response(status_line: str, headers: Any, *exc_info: Any) -> Any:
            if route_of is not None:
                self._set_route(call, route_of, environ)
            code = status_line.split(" ", 1)[0]
            if code.isdigit():
                call.respond(int(code), headers)
            return start_response(status_line, headers, *exc_info)

        token = call.activate()
        try:
            body = self.app(environ, traced_start_response)
        except BaseException as exc:
            call.finish(exc)
            raise
        finally:
            context.detach(token)
        return _ClosingBody(body, call)

    def _set_route(self, call: semconv.ServerCall, route_of: RouteOf,
                   environ: dict[str, Any]) -> None:
        try:
            route = route_of(environ)
        except Exception:
            report.hook_failed(f"{self.library}: route lookup")
            return
        if route:
            call.set_route(route)


class _ClosingBody:
    """The response body, ending the span when the server closes it (streaming included)."""

    def __init__(self, body: Iterable[bytes], call: semconv.ServerCall) -> None:
        self.body = body
        self.call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.body
        except BaseException as exc:
            self.call.finish(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.call.finish()


def _url(environ: dict[str, Any]) -> str:
    query = environ.get("QUERY_STRING")
    path = environ.get("PATH_INFO", "") or "/"
    return f"{environ.get('SCRIPT_NAME', '')}{path}" + (f"?{query}" if query else "")


_CGI_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")


class _EnvironHeaders(Mapping[str, list[str]]):
    """The request headers (`semconv.Headers`) over their CGI names in the environ
    (`x-tenant` is `HTTP_X_TENANT`): a span reads four or five of them, so only those are
    looked up."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str, default: Any = None) -> Any:
        value = self.environ.get(_cgi_name(name))
        return [value] if isinstance(value, str) and value else default

    def __getitem__(self, name: str) -> list[str]:
        values: list[str] | None = self.get(name)
        if values is None:
            raise KeyError(name)
        return values

    def __iter__(self) -> Iterator[str]:
        for key, value in self.environ.items():
            if isinstance(value, str) and value:
                if key.startswith("HTTP_"):
                    yield key[5:].lower().replace("_", "-")
                elif key in _CGI_HEADERS:
                    yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)


@functools.lru_cache(maxsize=64)  # bounded: a propagator may ask for any name a request sent
def _cgi_name(header: str) -> str:
    key = header.upper().replace("-", "_")
    return key if key in _CGI_HEADERS else "HTTP_" + key


def _protocol(server_protocol: str | None) -> str | None:
    """network.protocol.version: `1.1` of `HTTP/1.1`."""
    if server_protocol and server_protocol.startswith("HTTP/"):
        return server_protocol[5:]
    return None


def _server(environ: dict[str, Any]) -> tuple[str, int | None] | None:
    name = environ.get("SERVER_NAME")
    port = str(environ.get("SERVER_PORT", ""))
    return (name, int(port) if port.isdigit() else None) if name else None
