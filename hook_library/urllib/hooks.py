"""urllib.request: a CLIENT span around the project's own `urlopen` calls, with the trace
context in the request's headers.

One span for the whole call, redirects included; http.client underneath stays quiet. Other
urllib.request traffic (openers, libraries) is traced by the http.client hooks when the project
imports http.client, one span per request sent.
"""

from __future__ import annotations

import copy
import urllib.error
import urllib.request

from ..context import HookContext
from ..http_client import ClientCall, Outcome

SCOPE = "scope"


def start_request(ctx: HookContext) -> None:
    url = ctx.get_param(0) if ctx.args else ctx.kwargs.get("url")
    if isinstance(url, str):
        request = urllib.request.Request(url)
    elif isinstance(url, urllib.request.Request):
        request = copy.copy(url)  # the caller's Request object is left as it was
        request.headers = dict(url.headers)
    else:
        return
    if request.type not in ("http", "https"):  # file:, data:, ftp: are not HTTP requests
        return
    data = ctx.get_param("data")
    method = request.get_method() if data is None else (request.method or "POST")
    call = ClientCall.start("urllib", method, request.full_url, request.header_items())
    if call is None:
        return
    for name, value in call.headers().items():
        request.add_header(name, value)
    if ctx.args:
        ctx.set_param(0, request)
    else:
        ctx.kwargs["url"] = request
    ctx.set_data(call)
    ctx.set_key_data(SCOPE, call.scope())


def end_request(ctx: HookContext) -> None:
    call: ClientCall | None = ctx.get_data()
    if call is None:
        return
    scope = ctx.get_key_data(SCOPE)
    if scope is not None:
        scope.close()
    exc = ctx.exception
    if isinstance(exc, urllib.error.HTTPError):
        call.finish(Outcome(exc.code, exc.headers.items() if exc.headers else (),
                            getattr(exc.fp, "version", None)))  # fp: the http.client response
    elif exc is not None:
        call.finish(None, exc)
    else:
        response = ctx.return_value
        call.finish(Outcome(getattr(response, "status", None),
                            response.getheaders() if hasattr(response, "getheaders") else (),
                            getattr(response, "version", None)))
