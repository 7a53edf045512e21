"""Report run-time problems once, so a failing hook or a missing exporter never floods the logs."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("hatch_otel")

_reported: set[str] = set()
_lock = threading.Lock()
hook_errors: dict[str, int] = {}
"""How often each hook has failed, by `rule id:hook`; the failures never reach the app."""


def once(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log `message` at WARNING the first time `key` is seen in this process."""
    with _lock:
        if key in _reported:
            return
        _reported.add(key)
    logger.warning(message, *args, exc_info=exc_info)


def hook_failed(where: str) -> None:
    """Count a hook failure and log it (with its traceback) the first time only."""
    with _lock:
        hook_errors[where] = hook_errors.get(where, 0) + 1
    once(
        "hook:" + where,
        "hatch-otel: hook %s failed; the application continues uninstrumented at this point "
        "(reported once)",
        where,
        exc_info=True,
    )
