"""The import join point: run a hook on a library module right after it is first imported.

For the internals a woven call site cannot reach (a client another library creates). Only the
modules named by active rules are watched, nothing is imported on the app's behalf, and a module
imported before the bootstrap is hooked at once. Hooks patch classes or swap `__code__`, so
references taken earlier (`from x import y`) see the instrumented code too.
"""

from __future__ import annotations

import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # importlib.abc costs an app 15 ms at start-up (importlib.resources and more)
    import importlib.abc

from . import report

ModuleHook = Callable[[ModuleType], None]


class _Watch:
    """A meta path finder that finds nothing itself; it wraps the real loader of a watched
    module to run its hooks."""

    def __init__(self) -> None:
        self.hooks: dict[str, list[tuple[str, ModuleHook]]] = {}
        self.lock = threading.Lock()

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.hooks:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec: importlib.machinery.ModuleSpec | None = (
                find(fullname, path, target) if find is not None else None)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = cast("importlib.abc.Loader",
                                       _HookedLoader(spec.loader, self.hooks[fullname]))
                return spec
        return None


class _HookedLoader:
    """The real loader, and then the hooks."""

    def __init__(self, loader: Any, hooks: list[tuple[str, ModuleHook]]) -> None:
        self.loader = loader
        self.hooks = hooks

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        module.__spec__.loader = self.loader  # type: ignore[union-attr]
        _run(module, self.hooks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


_watch = _Watch()


def on_import(module_name: str, rule_id: str, hook: ModuleHook) -> None:
    """Run `hook(module)` once the module is imported (now, if it already is)."""
    module = sys.modules.get(module_name)
    if module is not None:
        _run(module, [(rule_id, hook)])
        return
    with _watch.lock:
        _watch.hooks.setdefault(module_name, []).append((rule_id, hook))
        if _watch not in sys.meta_path:
            sys.meta_path.insert(0, _watch)


def _run(module: ModuleType, hooks: list[tuple[str, ModuleHook]]) -> None:
    for rule_id, hook in hooks:
        try:
            hook(module)
        except Exception:
            report.hook_failed(f"{rule_id}: on import of {module.__name__}")
