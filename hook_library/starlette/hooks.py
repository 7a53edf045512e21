"""Starlette: trace the app created at a woven `Starlette(...)` call site."""

from __future__ import annotations

from .. import asgi
from ..context import HookContext


def instrument_app(ctx: HookContext) -> None:
    """After `Starlette(...)`: the shared ASGI middleware goes outermost in its stack."""
    if ctx.return_value is not None:
        asgi.instrument_starlette(ctx.return_value, "starlette")
