"""http.client: one CLIENT span per request an HTTPConnection sends, whoever drives it.

Patched on the class when `http.client` is first imported, so code using connections directly
and urllib.request openers made anywhere are covered. The span starts at `putrequest`
(which also sends the context headers) and ends at `getresponse`, or when `endheaders` fails
(connection refused). Under requests, urllib3 or urllib's `urlopen` (outer layers) it stays
quiet.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import report
from ..http_client import ClientCall, Outcome, is_traced, origin_url

LIBRARY = "http.client"
PENDING = "_hatch_otel_call"  # the connection's request between putrequest and getresponse


def instrument(module: ModuleType) -> None:
    """After `import http.client`: trace HTTPConnection (HTTPS and urllib3's inherit it)."""
    connection = module.HTTPConnection
    if is_traced(connection.putrequest):
        return
    connection.putheader = _traced_putheader(connection.putheader)
    connection.endheaders = _traced_endheaders(connection.endheaders)
    connection.getresponse = _traced_getresponse(connection.getresponse)
    connection.putrequest = _traced_putrequest(connection.putrequest)


def _traced_putrequest(putrequest: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(putrequest)
    def traced(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        putrequest(self, method, url, *args, **kwargs)
        abandoned: ClientCall | None = self.__dict__.pop(PENDING, None)
        if abandoned is not None:  # closed before its response: ended without one
            abandoned.finish(None)
        try:
            call = ClientCall.start(LIBRARY, method, _url(self, url))
            if call is not None:
                for name, value in call.headers().items():
                    self.putheader(name, value)
                self.__dict__[PENDING] = call
        except Exception:
            report.hook_failed(f"{LIBRARY}: putrequest")

    traced.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    return traced


def _traced_putheader(putheader: Callable[..., None]) -> Callable[..., None]:
    """Request headers are only known here; captured when OTEL_INSTRUMENTATION_HTTP_CAPTURE_
    HEADERS_CLIENT_REQUEST asks."""

    @functools.wraps(putheader)
    def traced(self: Any, header: Any, *values: Any) -> None:
        putheader(self, header, *values)
        call: ClientCall | None = self.__dict__.get(PENDING)
        if call is not None:
            call.add_request_headers([(header, value) for value in values])

    return traced


def _traced_endheaders(endheaders: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(endheaders)
    def traced(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            endheaders(self, *args, **kwargs)
        except BaseException as exc:
            call: ClientCall | None = self.__dict__.pop(PENDING, None)
            if call is not None:
                call.finish(None, exc)
            raise

    return traced


def _traced_getresponse(getresponse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(getresponse)
    def traced(self: Any) -> Any:
        call: ClientCall | None = self.__dict__.pop(PENDING, None)
        if call is None:
            return getresponse(self)
        try:
            response = getresponse(self)
        except BaseException as exc:
            call.finish(None, exc)
            raise
        call.finish(Outcome(response.status, response.headers.items(), response.version))
        return response

    return traced


def _url(connection: Any, target: str) -> str:
    """Through a CONNECT tunnel the connection's host is the proxy; the request goes on."""
    tunnel = getattr(connection, "_tunnel_host", None)
    host, port = ((tunnel, getattr(connection, "_tunnel_port", None)) if tunnel
                  else (connection.host, connection.port))
    scheme = "https" if connection.default_port == 443 else "http"
    return origin_url(scheme, host, port, target)
