"""urllib.request: a CLIENT span around `urlopen`, with the trace context in its headers."""

from __future__ import annotations

import copy
import urllib.error
import urllib.request

from ..context import HookContext
from ..semconv import ClientCall


def start_request(ctx: HookContext) -> None:
    url = ctx.get_param(0) if ctx.args else ctx.kwargs.get("url")
    if isinstance(url, str):
        request = urllib.request.Request(url)
    elif isinstance(url, urllib.request.Request):
        request = copy.copy(url)  # the caller's Request object is left as it was
        request.headers = dict(url.headers)
    else:
        return
    data = ctx.get_param("data")
    method = request.get_method() if data is None else (request.method or "POST")
    call = ClientCall("urllib", method, request.full_url)
    for name, value in call.headers().items():
        request.add_header(name, value)
    if ctx.args:
        ctx.set_param(0, request)
    else:
        ctx.kwargs["url"] = request
    ctx.set_data(call)


def end_request(ctx: HookContext) -> None:
    call: ClientCall | None = ctx.get_data()
    if call is None:
        return
    exc = ctx.exception
    if isinstance(exc, urllib.error.HTTPError):
        call.finish(exc.code)
    elif exc is not None:
        call.finish(None, exc)
    else:
        call.finish(getattr(ctx.return_value, "status", None))
