"""urllib3: one CLIENT span per `urlopen` of a connection pool, whoever made the pool.

Patched on HTTPConnectionPool (HTTPS pools inherit it) when `urllib3.connectionpool` is first
imported. A PoolManager's redirect hops each get their span; retries and redirects a pool
follows itself stay inside one. The caller's headers (or the pool's) are copied, never changed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..http_client import ClientCall, Outcome, is_traced, origin_url, traced_send

LIBRARY = "urllib3"
HEADERS = 4  # urlopen(self, method, url, body, headers, ...)


def instrument(module: ModuleType) -> None:
    """After `import urllib3.connectionpool`: trace HTTPConnectionPool.urlopen."""
    pool = module.HTTPConnectionPool
    if not is_traced(pool.urlopen):
        pool.urlopen = traced_send(LIBRARY, pool.urlopen, _begin, _outcome)


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]
           ) -> tuple[ClientCall, tuple[Any, ...], dict[str, Any]] | None:
    pool = args[0]
    method = args[1] if len(args) > 1 else kwargs["method"]
    target = args[2] if len(args) > 2 else kwargs["url"]
    headers = args[HEADERS] if len(args) > HEADERS else kwargs.get("headers")
    if headers is None:
        headers = pool.headers
    call = ClientCall.start(LIBRARY, method,
                            origin_url(pool.scheme, pool.host, pool.port, str(target)),
                            headers.items())
    if call is None:
        return None
    sent = headers.copy() if hasattr(headers, "copy") else dict(headers)
    call.inject(sent)
    if len(args) > HEADERS:
        return call, (*args[:HEADERS], sent, *args[HEADERS + 1:]), kwargs
    return call, args, {**kwargs, "headers": sent}


def _outcome(response: Any) -> Outcome:
    return Outcome(response.status, response.headers.items(), getattr(response, "version", None))
