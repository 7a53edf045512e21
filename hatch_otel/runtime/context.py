"""The hook context: what a before/after hook sees of one call, after the Go tool's HookContext.

A hook reads and replaces parameters and the return value, may skip the call, keeps per-call
data between its before and after halves, and reaches the span the trampoline started (if any).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()


class HookContext:
    """One call of an instrumented function or call site, as seen by its hooks."""

    __slots__ = (
        "_data",
        "_params",
        "args",
        "exception",
        "function",
        "kwargs",
        "return_value",
        "rule_id",
        "skip",
        "span",
        "token",
    )

    def __init__(
        self,
        rule_id: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.rule_id = rule_id
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.return_value: Any = None
        self.exception: BaseException | None = None
        self.skip = False
        self.span: Any = None
        self.token: object = None
        self._data: dict[Any, Any] | None = None
        self._params: tuple[str, ...] | None = None

    # -- the function ---------------------------------------------------------------------------
    def get_func_name(self) -> str:
        """The called function's `__qualname__` (`Client.send`, `outer.<locals>.inner`)."""
        return getattr(self.function, "__qualname__", None) or repr(self.function)

    def get_package_name(self) -> str:
        """The module that defines the called function."""
        return getattr(self.function, "__module__", None) or ""

    # -- parameters -----------------------------------------------------------------------------
    def get_param_count(self) -> int:
        return len(self.args) + len(self.kwargs)

    def get_param(self, key: int | str, default: Any = None) -> Any:
        """A parameter by position or by name, whichever way the caller passed it; one the
        caller left out is the function's own default (else `default`)."""
        if isinstance(key, str):
            if key in self.kwargs:
                return self.kwargs[key]
            index = self._position_of(key)
            if index is None or index >= len(self.args):
                return _declared_default(self.function, key, index, default)
            key = index
        if key < len(self.args):
            return self.args[key]
        names = self._params or ()
        name = names[key] if key < len(names) else ""
        return _declared_default(self.function, name, key, default)

    def set_param(self, key: int | str, value: Any) -> None:
        """Replace a parameter; the call then receives `value` instead."""
        if isinstance(key, str):
            index = self._position_of(key)
            if key in self.kwargs or index is None or index >= len(self.args):
                self.kwargs[key] = value
                return
            key = index
        args = list(self.args)
        args[key] = value
        self.args = tuple(args)

    def _position_of(self, name: str) -> int | None:
        if self._params is None:
            self._params = _parameter_names(self.function)
        try:
            return self._params.index(name)
        except ValueError:
            return None

    # -- the result -----------------------------------------------------------------------------
    def get_return_val(self) -> Any:
        return self.return_value

    def set_return_val(self, value: Any) -> None:
        """Replace the result the caller receives (in an after hook, or with `set_skip_call`)."""
        self.return_value = value

    def set_skip_call(self, return_value: Any = None) -> None:
        """From a before hook: do not call the function; the caller receives `return_value`."""
        self.skip = True
        self.return_value = return_value

    def is_skip_call(self) -> bool:
        return self.skip

    # -- per-call data --------------------------------------------------------------------------
    def set_data(self, value: Any) -> None:
        self.set_key_data(_MISSING, value)

    def get_data(self) -> Any:
        return self.get_key_data(_MISSING)

    def set_key_data(self, key: Any, value: Any) -> None:
        if self._data is None:
            self._data = {}
        self._data[key] = value

    def get_key_data(self, key: Any, default: Any = None) -> Any:
        return default if self._data is None else self._data.get(key, default)

    def has_key_data(self, key: Any) -> bool:
        return self._data is not None and key in self._data


def _callee(function: Callable[..., Any]) -> tuple[Any, int]:
    """The Python function behind a callable, and how many leading parameters callers skip
    (a class: its __init__ without self; a bound method: without self)."""
    if isinstance(function, type):
        return getattr(function, "__init__", None), 1
    if hasattr(function, "__func__"):
        return function.__func__, 1
    return function, 0


def _parameter_names(function: Callable[..., Any]) -> tuple[str, ...]:
    """Positional parameter names, as a caller passes them."""
    target, skip = _callee(function)
    code = getattr(target, "__code__", None)
    return tuple(code.co_varnames[skip : code.co_argcount]) if code is not None else ()


def _declared_default(function: Callable[..., Any], name: str, index: int | None,
                      default: Any) -> Any:
    """The default the function declares for a parameter the caller left out."""
    target, _ = _callee(function)
    keyword_defaults = getattr(target, "__kwdefaults__", None) or {}
    if name in keyword_defaults:
        return keyword_defaults[name]
    defaults = getattr(target, "__defaults__", None) or ()
    if index is None or not defaults:
        return default
    first_with_default = len(_parameter_names(function)) - len(defaults)
    return defaults[index - first_with_default] if index >= first_with_default else default
