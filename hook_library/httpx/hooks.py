"""httpx: one CLIENT span per request its HTTP transports send, sync and async.

Patched on HTTPTransport and AsyncHTTPTransport (which every Client / AsyncClient uses unless
given another transport) when `httpx._transports.default` is first imported, so clients made
anywhere are covered. Each physical request gets its span, redirect hops included.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..http_client import ClientCall, Outcome, is_traced, traced_async_send, traced_send

LIBRARY = "httpx"


def instrument(module: ModuleType) -> None:
    """After `import httpx._transports.default`: trace both transports."""
    sync, asynchronous = module.HTTPTransport, module.AsyncHTTPTransport
    if not is_traced(sync.handle_request):
        sync.handle_request = traced_send(LIBRARY, sync.handle_request, _begin, _outcome)
    if not is_traced(asynchronous.handle_async_request):
        asynchronous.handle_async_request = traced_async_send(
            LIBRARY, asynchronous.handle_async_request, _begin, _outcome)


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[ClientCall, tuple[Any, ...], dict[str, Any]] | None:
    """handle_request(self, request): the Request's headers get the context."""
    request = args[1] if len(args) > 1 else kwargs["request"]
    call = ClientCall.start(LIBRARY, request.method, request.url, request.headers.multi_items())
    if call is not None:
        call.inject(request.headers)
        return call, args, kwargs
    return None


def _outcome(response: Any) -> Outcome:
    return Outcome(response.status_code, response.headers.multi_items(),
                   response.extensions.get("http_version"))
