"""The span a `trace` rule opens around a function: name template, kind, attributes from
parameters, the exception and, when asked, the return value."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import report
from .context import HookContext

KINDS = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_ABSENT = object()


class TracePolicy:
    """Opens one span per call of the traced function."""

    __slots__ = ("_name", "attributes", "kind", "record_exception", "record_return", "tracer")

    def __init__(
        self,
        tracer: trace.Tracer,
        name: str,
        kind: str = "internal",
        attributes: Mapping[str, str] | None = None,
        record_exception: bool = True,
        record_return: bool = False,
    ) -> None:
        self.tracer = tracer
        self._name = name
        self.kind = KINDS[kind]
        self.attributes = tuple((attributes or {}).items())
        self.record_exception = record_exception
        self.record_return = record_return

    def name(self, ctx: HookContext) -> str:
        if "{" not in self._name:
            return self._name
        function = ctx.function
        return _TEMPLATE.vformat(self._name, (), _Names(ctx, {
            "qualname": getattr(function, "__qualname__", ""),
            "name": getattr(function, "__name__", ""),
            "module": getattr(function, "__module__", ""),
        }))

    def start(self, ctx: HookContext) -> None:
        span = self.tracer.start_span(self.name(ctx), kind=self.kind)
        ctx.span = span
        if span.is_recording():
            for key, path in self.attributes:
                value = _lookup(ctx, path)
                if value is not _ABSENT and value is not None:
                    span.set_attribute(key, _attribute_value(value))

    def activate(self, ctx: HookContext) -> object:
        if ctx.span is None:
            return None
        return context.attach(trace.set_span_in_context(ctx.span))

    def deactivate(self, token: object) -> None:
        context.detach(token)  # type: ignore[arg-type]

    def finish(self, ctx: HookContext) -> None:
        span = ctx.span
        if span is None:
            return
        exc = ctx.exception
        if exc is not None:
            self._failed(span, exc)
        elif self.record_return and ctx.return_value is not None:
            span.set_attribute("code.return_value", _attribute_value(ctx.return_value))
        span.end()

    def _failed(self, span: Any, exc: BaseException) -> None:
        if isinstance(exc, GeneratorExit):  # a generator closed early did not fail
            return
        if self.record_exception:
            span.record_exception(exc)
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(exc)))

    def lean(self, function: Callable[..., Any]) -> Callable[..., Any] | None:
        """For a plain function whose rule asks for nothing per call (no parameter in the span
        name, no attributes, no return value, no hooks): a wrapper that is just the span around
        the call, as cheap as writing it by hand. None when the rule needs the generic path."""
        if self.attributes or self.record_return:
            return None
        try:
            name = self._name.format(qualname=getattr(function, "__qualname__", ""),
                                     name=getattr(function, "__name__", ""),
                                     module=getattr(function, "__module__", ""))
        except (KeyError, IndexError, ValueError, AttributeError):
            return None
        start, kind, failed = self.tracer.start_span, self.kind, self._failed
        attach, detach, current = context.attach, context.detach, trace.set_span_in_context

        def traced(*args: Any, **kwargs: Any) -> Any:
            try:
                span = start(name, kind=kind)
                token = attach(current(span))
            except Exception:
                report.hook_failed(f"{name}: span start")
                return function(*args, **kwargs)
            try:
                return function(*args, **kwargs)
            except BaseException as exc:
                failed(span, exc)
                raise
            finally:
                detach(token)
                span.end()

        return traced


class _Template(string.Formatter):
    """`{order.id}` is one parameter path, read like an attribute (`_lookup`): a key of a
    mapping or an absent parameter gives a value or "", never an error that loses the span."""

    def get_field(self, field_name: str, args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        return kwargs[field_name], field_name


_TEMPLATE = _Template()


class _Names(dict[str, Any]):
    """Template names: qualname, name, module, then the call's parameters."""

    def __init__(self, ctx: HookContext, names: dict[str, str]) -> None:
        super().__init__(names)
        self.ctx = ctx

    def __missing__(self, key: str) -> Any:
        value = _lookup(self.ctx, key)
        return "" if value is _ABSENT else value


def _lookup(ctx: HookContext, path: str) -> Any:
    """`order.id`: the parameter `order`, then its attribute or key `id`."""
    head, *rest = path.split(".")
    value = ctx.get_param(head, _ABSENT)
    for part in rest:
        if value is _ABSENT:
            break
        if isinstance(value, Mapping):
            value = value.get(part, _ABSENT)
        else:
            value = getattr(value, part, _ABSENT)
    return value


def _attribute_value(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)
