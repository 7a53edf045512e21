"""What woven code calls: `at` for call sites, `fn` and `then` for function entries.

The weaver turns `Flask(__name__)` into `_hatch_otel.at("flask.app", Flask)(__name__)` and puts
`@_hatch_otel.fn("trace.0")` (or `@_hatch_otel.then(<existing decorator>, "trace.0")`) on a
function. With the rule inactive (telemetry off, library disabled, OpenTelemetry missing) these
return the callee or the function itself, so an inactive weave costs one call at import time and
nothing per call. Active, they run the rule's hooks around the call; a hook that raises is
reported once and never reaches the application.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from . import report
from .context import HookContext

F = TypeVar("F", bound=Callable[..., Any])
Hook = Callable[[HookContext], None]


class SpanPolicy(Protocol):
    """How a binding opens and closes a span around a call (see `spans.TracePolicy`)."""

    def start(self, ctx: HookContext) -> None: ...
    def activate(self, ctx: HookContext) -> object: ...
    def deactivate(self, token: object) -> None: ...
    def finish(self, ctx: HookContext) -> None: ...
    def lean(self, function: Callable[..., Any]) -> Callable[..., Any] | None: ...


class Binding:
    """One active rule: its hooks (imported on first use) and its span policy."""

    __slots__ = ("_after_ref", "_before_ref", "_package", "after", "before", "resolved", "rule_id",
                 "span")

    def __init__(
        self,
        rule_id: str,
        package: str,
        before: str | None = None,
        after: str | None = None,
        span: SpanPolicy | None = None,
    ) -> None:
        self.rule_id = rule_id
        self._package = package
        self._before_ref = before
        self._after_ref = after
        self.before: Hook | None = None
        self.after: Hook | None = None
        self.span = span
        self.resolved = False

    def resolve(self) -> bool:
        """Import the hook functions; False (reported once) when they cannot be loaded."""
        if not self.resolved:
            try:
                self.before = _load(self._before_ref, self._package)
                self.after = _load(self._after_ref, self._package)
            except Exception:
                report.hook_failed(f"{self.rule_id}: loading hooks")
                return False
            self.resolved = True
        return True

    # -- the two halves of every instrumented call ----------------------------------------------
    def enter(self, function: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any], *, activate: bool = True) -> HookContext:
        ctx = HookContext(self.rule_id, function, args, kwargs)
        if self.span is not None:
            _guarded(self.span.start, ctx, self.rule_id, "span start")
            if activate:
                ctx.token = self.span.activate(ctx)
        if self.before is not None:
            _guarded(self.before, ctx, self.rule_id, "before")
        return ctx

    def exit(self, ctx: HookContext) -> None:
        if self.after is not None:
            _guarded(self.after, ctx, self.rule_id, "after")
        if self.span is not None:
            _guarded(self.span.finish, ctx, self.rule_id, "span end")
        self.suspend(ctx.token)
        ctx.exception = None  # break the frame <-> context cycle early

    # -- generators: the span is current only while their body runs -----------------------------
    def resume(self, ctx: HookContext) -> object:
        return self.span.activate(ctx) if self.span is not None else None

    def suspend(self, token: object) -> None:
        if token is not None and self.span is not None:
            self.span.deactivate(token)

    # -- call sites and plain functions ---------------------------------------------------------
    def call(self, target: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run `target` with the rule's hooks (and span) around it."""
        ctx = self.enter(target, args, kwargs)
        if ctx.skip:
            self.exit(ctx)
            return ctx.return_value
        try:
            ctx.return_value = target(*ctx.args, **ctx.kwargs)
        except BaseException as exc:
            ctx.exception = exc
            self.exit(ctx)
            raise
        self.exit(ctx)
        return ctx.return_value

    # -- function entries -----------------------------------------------------------------------
    def wrap(self, function: F) -> F:
        """The traced twin of `function`, of the same kind (coroutine, generator...)."""
        if not callable(function) or not self.resolve():
            return function
        if inspect.isasyncgenfunction(function):
            wrapper = _async_generator_wrapper(self, function)
        elif inspect.iscoroutinefunction(function):
            wrapper = _coroutine_wrapper(self, function)
        elif inspect.isgeneratorfunction(function):
            wrapper = _generator_wrapper(self, function)
        else:
            lean = None
            if self.span is not None and self.before is None and self.after is None:
                lean = self.span.lean(function)
            wrapper = lean or _function_wrapper(self, function)
        return functools.update_wrapper(wrapper, function)  # type: ignore[return-value]


def _load(ref: str | None, package: str) -> Hook | None:
    """`.hooks.flask:after_app` (bundled) or `shop.telemetry:before_send` (the app's own)."""
    if ref is None:
        return None
    module_name, _, attribute = ref.partition(":")
    module = importlib.import_module(module_name, package if module_name.startswith(".") else None)
    hook: Hook = getattr(module, attribute)
    return hook


def _guarded(hook: Callable[[HookContext], object], ctx: HookContext, rule_id: str,
             where: str) -> None:
    try:
        hook(ctx)
    except Exception:
        report.hook_failed(f"{rule_id}: {where}")


def _function_wrapper(binding: Binding, function: Callable[..., Any]) -> Callable[..., Any]:
    """A real function (so it binds as a method), doing what a woven call site does."""
    call = binding.call

    def traced(*args: Any, **kwargs: Any) -> Any:
        return call(function, *args, **kwargs)

    return traced


def _coroutine_wrapper(binding: Binding, function: Callable[..., Any]) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        ctx = binding.enter(function, args, kwargs)
        if ctx.skip:
            binding.exit(ctx)
            return ctx.return_value
        try:
            ctx.return_value = await function(*ctx.args, **ctx.kwargs)
        except BaseException as exc:
            ctx.exception = exc
            binding.exit(ctx)
            raise
        binding.exit(ctx)
        return ctx.return_value

    return traced


def _generator_wrapper(binding: Binding, function: Callable[..., Any]) -> Callable[..., Any]:
    """Delegates like `yield from` (PEP 380), making the span current only while the body runs,
    since the consumer may resume the generator from any context."""

    def traced(*args: Any, **kwargs: Any) -> Any:
        ctx = binding.enter(function, args, kwargs, activate=False)
        if ctx.skip:
            binding.exit(ctx)
            return ctx.return_value
        try:
            generator = function(*ctx.args, **ctx.kwargs)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = binding.resume(ctx)
                try:
                    if thrown is None:
                        item = generator.send(sent)
                    else:
                        item, thrown = generator.throw(thrown), None
                finally:
                    binding.suspend(token)
                try:
                    sent = yield item
                except GeneratorExit:
                    generator.close()
                    raise
                except BaseException as exc:
                    thrown, sent = exc, None
        except StopIteration as stop:
            ctx.return_value = stop.value
        except GeneratorExit:
            binding.exit(ctx)
            raise
        except BaseException as exc:
            ctx.exception = exc
            binding.exit(ctx)
            raise
        binding.exit(ctx)
        return ctx.return_value

    return traced


def _async_generator_wrapper(binding: Binding,
                             function: Callable[..., Any]) -> Callable[..., Any]:
    """The asynchronous twin of `_generator_wrapper` (asend/athrow/aclose)."""

    async def traced(*args: Any, **kwargs: Any) -> Any:
        ctx = binding.enter(function, args, kwargs, activate=False)
        if ctx.skip:
            binding.exit(ctx)
            return
        try:
            generator = function(*ctx.args, **ctx.kwargs)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = binding.resume(ctx)
                try:
                    if thrown is None:
                        item = await generator.asend(sent)
                    else:
                        item, thrown = await generator.athrow(thrown), None
                finally:
                    binding.suspend(token)
                try:
                    sent = yield item
                except GeneratorExit:
                    await generator.aclose()
                    raise
                except BaseException as exc:
                    thrown, sent = exc, None
        except StopAsyncIteration:
            pass
        except GeneratorExit:
            binding.exit(ctx)
            raise
        except BaseException as exc:
            ctx.exception = exc
            binding.exit(ctx)
            raise
        binding.exit(ctx)

    return traced


# -- the woven code's entry points ---------------------------------------------------------------
_active: dict[str, Binding] = {}


def activate(bindings: dict[str, Binding]) -> None:
    """Install the bindings the bootstrap built; rules left out stay inactive (pass-through)."""
    _active.clear()
    _active.update(bindings)


def at(rule_id: str, target: Callable[..., Any]) -> Callable[..., Any]:
    """Call-site trampoline: `at(rule, callee)(args...)` runs the rule's hooks around the call."""
    binding = _active.get(rule_id)
    if binding is None or not binding.resolve():
        return target
    return functools.partial(binding.call, target)


def _unchanged(function: F) -> F:
    return function


def fn(rule_id: str) -> Callable[[F], F]:
    """Function-entry trampoline, used as the innermost decorator."""
    binding = _active.get(rule_id)
    return _unchanged if binding is None else binding.wrap


def then(decorator: Callable[[Any], Any], rule_id: str) -> Callable[[Any], Any]:
    """`@then(dec, rule)` is `@dec` over `@fn(rule)`, written on the decorator's own line so
    that adding the trampoline moves no line of the function."""
    binding = _active.get(rule_id)
    if binding is None:
        return decorator
    return lambda function: decorator(binding.wrap(function))


def members(decorator: Callable[[Any], Any] | None,
            rules: dict[str, str]) -> Callable[[type], Any]:
    """Class decorator for methods that had no free line of their own: wraps them as soon as
    the class exists, before `decorator` (the class's own innermost one, if any) sees it."""

    def wrap_members(cls: type) -> Any:
        for name, rule_id in rules.items():
            binding = _active.get(rule_id)
            method = cls.__dict__.get(name)
            if binding is not None and method is not None:
                setattr(cls, name, binding.wrap(method))
        return cls if decorator is None else decorator(cls)

    return wrap_members
