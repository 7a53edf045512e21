"""requests: one CLIENT span per request its HTTPAdapter sends, however the Session was made.

Patched on the class when `requests.adapters` is first imported, so sessions created anywhere
(by the app or by another library, before or after) are covered. Each physical request gets
its span, redirect hops included, each with its own `traceparent`; urllib3 and http.client
underneath stay quiet.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..http_client import ClientCall, Outcome, is_traced, traced_send

LIBRARY = "requests"


def instrument(module: ModuleType) -> None:
    """After `import requests.adapters`: trace HTTPAdapter.send."""
    adapter = module.HTTPAdapter
    if not is_traced(adapter.send):
        adapter.send = traced_send(LIBRARY, adapter.send, _begin, _outcome)


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[ClientCall, tuple[Any, ...], dict[str, Any]] | None:
    """send(self, request, stream=..., ...): the PreparedRequest's headers get the context."""
    request = args[1] if len(args) > 1 else kwargs["request"]
    call = ClientCall.start(LIBRARY, request.method or "GET", request.url,
                            request.headers.items())
    if call is not None:
        call.inject(request.headers)
        return call, args, kwargs
    return None


def _outcome(response: Any) -> Outcome:
    return Outcome(response.status_code, response.headers.items(),
                   getattr(response.raw, "version", None))
