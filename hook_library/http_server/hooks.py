"""http.server: serve requests through a traced subclass of the handler class.

The subclass wraps every `do_<METHOD>` the handler defines and notes the status sent, so one
SERVER span covers each request with its method, path and status.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context

from .. import semconv
from ..context import HookContext

LIBRARY = "http.server"


def trace_handler(ctx: HookContext) -> None:
    """Before `HTTPServer(address, Handler)`: swap in the traced subclass."""
    handler = ctx.get_param("RequestHandlerClass")
    if isinstance(handler, type) and issubclass(handler, BaseHTTPRequestHandler):
        ctx.set_param("RequestHandlerClass", traced_handler(handler))


@functools.cache
def traced_handler(handler: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    if getattr(handler, "hatch_otel_instrumented", False):
        return handler
    methods = {name: _traced(getattr(handler, name)) for name in dir(handler)
               if name.startswith("do_") and callable(getattr(handler, name))}

    def send_response(self: Any, code: int, message: str | None = None) -> None:
        call = getattr(self, "hatch_otel_call", None)
        if call is not None:
            call.respond(code)
        handler.send_response(self, code, message)

    return type(handler.__name__, (handler,), {
        **methods, "send_response": send_response, "hatch_otel_instrumented": True,
        "__module__": handler.__module__, "__qualname__": handler.__qualname__,
    })


def _traced(method: Callable[[Any], None]) -> Callable[[Any], None]:
    @functools.wraps(method)
    def traced(self: Any) -> None:
        if semconv.is_excluded(LIBRARY, self.path):
            return method(self)
        parts = urlsplit(self.path)
        version = self.request_version
        call = semconv.ServerCall.start(
            LIBRARY, self.command, semconv.headers_by_name(self.headers.items()), scheme="http",
            path=parts.path, query=parts.query, client=self.client_address[0],
            protocol=version[5:] if version.startswith("HTTP/") else None,
            server=tuple(self.server.server_address[:2]))
        if call is None:
            return method(self)
        self.hatch_otel_call = call
        token = call.activate()
        try:
            method(self)
        except BaseException as exc:
            call.finish(exc)
            raise
        finally:
            context.detach(token)
        call.finish()

    return traced
