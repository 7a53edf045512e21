"""aiohttp client: one CLIENT span per ClientSession request, through aiohttp's own tracing.

When `aiohttp.client` is first imported, ClientSession's constructor is patched to add one
shared TraceConfig to every session (the app's or a library's), beside any the caller passes.
Its signals start the span and send the context headers (on_request_start) and end it with the
final response (on_request_end) or the exception (on_request_exception); redirects aiohttp
follows stay inside the request's span, as in aiohttp's own view of a request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .. import report
from ..http_client import ClientCall, Outcome, is_traced

LIBRARY = "aiohttp-client"


def instrument(module: ModuleType) -> None:
    """After `import aiohttp.client`: every ClientSession gets the tracing config."""
    session = module.ClientSession
    if not is_traced(session.__init__):
        session.__init__ = _traced_init(session.__init__, _trace_config(module))


def _traced_init(init: Callable[..., None], config: Any) -> Callable[..., None]:
    @functools.wraps(init)
    def traced(self: Any, *args: Any, **kwargs: Any) -> None:
        configs = list(kwargs.get("trace_configs") or ())
        if config not in configs:
            configs.append(config)
        init(self, *args, **{**kwargs, "trace_configs": configs})

    traced.hatch_otel_instrumented = True  # type: ignore[attr-defined]
    return traced


def _trace_config(module: ModuleType) -> Any:
    config = module.TraceConfig()
    response_error = module.ClientResponseError

    async def on_start(session: Any, ctx: Any, params: Any) -> None:
        try:
            call = ClientCall.start(LIBRARY, params.method, params.url, params.headers.items())
            if call is not None:
                call.inject(params.headers)
                ctx.hatch_otel_call = call
        except Exception:
            report.hook_failed(f"{LIBRARY}: on_request_start")

    async def on_end(session: Any, ctx: Any, params: Any) -> None:
        call: ClientCall | None = getattr(ctx, "hatch_otel_call", None)
        if call is not None:
            response = params.response
            call.finish(Outcome(response.status, response.headers.items(), response.version))

    async def on_exception(session: Any, ctx: Any, params: Any) -> None:
        call: ClientCall | None = getattr(ctx, "hatch_otel_call", None)
        if call is not None:
            exc = params.exception
            status = exc.status if isinstance(exc, response_error) and exc.status else None
            call.finish(Outcome(status) if status else None, exc)  # raise_for_status: the code

    config.on_request_start.append(on_start)
    config.on_request_end.append(on_end)
    config.on_request_exception.append(on_exception)
    return config
