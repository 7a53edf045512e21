"""gunicorn: trace whatever WSGI application a gunicorn worker loads.

gunicorn imports the app by name (`pkg.wsgi:app`), so the project has no call site to weave.
The import join point on `gunicorn.workers.base` turns the worker's `wsgi` attribute into a
data descriptor: the app the worker stores there is stored traced. The app's own import starts
the runtime from inside `Worker.load_wsgi`, just before that store, so even the first worker
is covered. Apps a framework hook already traces (Flask, Django) are kept as they are, their
span keeps their name; gunicorn's ASGI worker keeps its app elsewhere and is not touched.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..wsgi import OtelMiddleware

LIBRARY = "gunicorn"


def trace_workers(module: ModuleType) -> None:
    """On import of gunicorn.workers.base."""
    if not isinstance(module.Worker.__dict__.get("wsgi"), TracedApp):
        module.Worker.wsgi = TracedApp()


class TracedApp:
    """`Worker.wsgi`: stores the loaded application wrapped in the WSGI middleware."""

    hatch_otel_instrumented = True

    def __get__(self, worker: Any, owner: type | None = None) -> Any:
        if worker is None:
            return self
        try:
            return worker.__dict__["wsgi"]
        except KeyError:
            raise AttributeError("wsgi") from None

    def __set__(self, worker: Any, app: Any) -> None:
        worker.__dict__["wsgi"] = app if _traced(app) else OtelMiddleware(app, LIBRARY)


def _traced(app: Any) -> bool:
    """Whether a framework hook traces the app already (Flask traces its `wsgi_app`)."""
    try:
        return bool(getattr(app, "hatch_otel_instrumented", False)
                    or getattr(getattr(app, "wsgi_app", None), "hatch_otel_instrumented", False))
    except Exception:
        return False
