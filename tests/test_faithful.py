"""Weaving is faithful: the woven program behaves like the original, line for line.

Each project below is woven by the real pipeline, then its original and its woven modules are
imported side by side (see `inprocess`) and compared: results, exceptions, metadata, the kind of
function, registration by decorators, tracebacks and the source's own line numbers. The spans go
to the session's in-memory exporter.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import click.testing
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from hatch_otel.bundle import write_bundle
from hatch_otel.weave import RUNTIME_ALIAS, ModuleInput, weave_source
from inprocess import EXPORTER, Build, Spans, build, load, project, run

HERE = Path(__file__).resolve().parent

# -- the projects ---------------------------------------------------------------------------------
CASES = {
    "faith/__init__.py": '"""Functions of every shape, woven by one trace rule."""\n',
    "faith/core.py": '''\
"""Functions of every shape: the woven module must behave exactly like this one."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools

from opentelemetry import trace

tracer = trace.get_tracer("faith.tests")
REGISTRY: dict[str, object] = {}
EVENTS: list[object] = []


def register(name):
    """A decorator that files the function it is given, at import time."""

    def decorate(function):
        REGISTRY[name] = function
        return function

    return decorate


def add(a: int, b: int = 1, /, c: int = 2, *args: int, d: int, e: int = 5, **kwargs: int) -> int:
    """Add everything up."""
    return a + b + c + sum(args) + d + e + sum(kwargs.values())


def fail(message, code=3):
    """Raise, with arguments."""
    raise ValueError(message, code)


def crash(depth):
    """Recurse, then fail on a known line."""
    if depth:
        return crash(depth - 1)
    return {}["missing"]


def factorial(n: int) -> int:
    return 1 if n <= 1 else n * factorial(n - 1)


def outer(x):
    """Its inner function is traced: a rule names `outer.<locals>.*`."""

    def inner(y):
        return x + y

    return inner(1), inner


def other(x):
    """Its inner function is not traced: no rule names `other.<locals>`."""

    def inner(y):
        return x * y

    return inner(2), inner


class Base:
    """The parent."""

    def greet(self, name):
        return f"hello {name}"


class Child(Base):
    """Uses super() and private names."""

    def __init__(self, secret=42):
        self.__secret = secret

    def greet(self, name):
        """Greet loudly."""
        return super().greet(name).upper() + self.__suffix()

    def __suffix(self):
        return f" #{self.__secret}"

    @staticmethod
    def double(x):
        """Twice x."""
        return x * 2

    @classmethod
    def make(cls, secret):
        """A child with this secret."""
        return cls(secret)

    @property
    def secret(self):
        """The secret."""
        return self.__secret

    @secret.setter
    def secret(self, value):
        self.__secret = value


class Singleton:
    """Implicit static and class methods: __new__ and __init_subclass__."""

    _instance = None

    def __new__(cls, *args):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __init_subclass__(cls, tag="", **kwargs):
        super().__init_subclass__(**kwargs)
        cls.tag = tag


class Tagged(Singleton, tag="t"):
    """Configured through __init_subclass__."""


class Shape(abc.ABC):
    """Abstract."""

    @abc.abstractmethod
    def area(self):
        """The area."""


class Square(Shape):
    """Concrete."""

    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side**2


async def pause(delay, fail=False):
    """Sleep, then answer or raise."""
    await asyncio.sleep(delay)
    if fail:
        raise KeyError("boom", delay)
    return delay * 2


def echo(n):
    """Yield 0..n-1, record what is sent, survive ValueError, return a total."""
    total = 0
    try:
        for i in range(n):
            try:
                received = yield i
            except ValueError as exc:
                received = ("caught", exc.args)
            EVENTS.append(received)
            total += i
    finally:
        EVENTS.append("finally")
    return total


def delegate(n):
    result = yield from echo(n)
    return ("delegated", result)


def child_span_inside():
    """Starts a span in its body, then yields the span that was current there."""
    with tracer.start_as_current_span("inside"):
        pass
    yield trace.get_current_span().get_span_context().span_id
    yield "done"


async def aecho(n):
    """The asynchronous twin of echo."""
    total = 0
    try:
        for i in range(n):
            try:
                received = yield i
            except ValueError as exc:
                received = ("caught", exc.args)
            EVENTS.append(received)
            total += i
            await asyncio.sleep(0)
    finally:
        EVENTS.append("finally")
    EVENTS.append(("total", total))


@contextlib.contextmanager
def managed(suppress):
    EVENTS.append("enter")
    try:
        yield "resource"
    except ZeroDivisionError:
        EVENTS.append("handled")
        if not suppress:
            raise
    finally:
        EVENTS.append("exit")


@register("first")
def first(x):
    """The first registered."""
    return x + 1


@register("second")
def second(x):
    return x + 2


DISPATCH = {"first": first, "second": second}


@functools.singledispatch
def describe(value):
    return "thing"


@describe.register
def _(value: int):
    return f"int {value}"


@describe.register
def _(value: str):
    return f"str {value}"
''',
}
CASES_OTEL = {"trace": [{"function": "faith.core:*"},
                        {"function": "faith.core:outer.<locals>.*"}]}

WEB = {
    "faith_web/__init__.py": '"""A Flask app and a click command."""\n',
    "faith_web/app.py": '''\
"""Both frameworks register the function they decorate."""

import click
from flask import Flask

app = Flask(__name__)


@app.route("/hello/<name>")
def hello(name):
    """Say hello."""
    return f"hello {name}"


@app.get("/boom")
def boom():
    raise RuntimeError("boom")


@click.command()
@click.option("--count", default=1, type=int)
@click.argument("name")
def greet(count, name):
    """Greet NAME."""
    click.echo(" ".join([f"hi {name}"] * count))
''',
}
WEB_OTEL = {"trace": [{"function": "faith_web.app:*"}]}

IGNORED = {
    "faith_ign/__init__.py": '"""Every form of `# otel: ignore`."""\n',
    "faith_ign/mod.py": '''\
"""Markers on statements, functions, decorators and classes."""

import functools

from flask import Flask

woven_app = Flask("woven")
plain_app = Flask("plain")  # otel: ignore


def traced():
    return 1


def trailing():  # otel: ignore
    return 2


# otel: ignore
def leading():
    return 3


@functools.lru_cache  # otel: ignore
def cached(x):
    return x


class Skipped:  # otel: ignore
    """Trailing marker on a class."""

    def method(self):
        return 4


# otel: ignore
class SkippedToo:
    """Leading marker on a class."""

    def method(self):
        return 5


class Kept:
    """No marker."""

    def method(self):
        return 6
''',
    "faith_ign/whole.py": '''\
# otel: ignore

def anything():
    return 7
''',
    "faith_ign/first.py": '''\
# A comment the runtime import shares; the marker below covers the first statement only.
# otel: ignore
def first_only():
    return 8


def second():
    return 9
''',
}
IGNORED_OTEL = {"trace": [{"function": "faith_ign.*:*"}]}

OPTIONS = {
    "faith_opts/__init__.py": '"""The trace rule\'s options."""\n',
    "faith_opts/orders.py": '''\
"""Orders."""


class Customer:
    """Someone."""

    def __init__(self, name):
        self.name = name


class Order:
    """Something bought."""

    def __init__(self, id, customer, total):
        self.id = id
        self.customer = customer
        self.total = total


def place(order, quantity=1, *, note=None):
    return order.total * quantity


def lookup(request):
    return request["user"]["name"]


def explode(order):
    raise RuntimeError("no stock", order.id)


def quiet(order):
    raise RuntimeError("quiet")


def nothing():
    return None
''',
}
OPTIONS_OTEL = {"trace": [
    {"function": "faith_opts.orders:place", "span-name": "place {order.id} x{quantity}",
     "kind": "client", "record-return": True,
     "attributes": {"order.id": "order.id", "order.customer": "order.customer.name",
                    "order.quantity": "quantity", "order.note": "note",
                    "order.absent": "order.nothing.here"}},
    {"function": "faith_opts.orders:lookup", "span-name": "lookup {request.user.name}",
     "kind": "server", "attributes": {"user": "request.user.name"}},
    {"function": "faith_opts.orders:explode", "span-name": "{module}.{name}", "kind": "producer"},
    {"function": "faith_opts.orders:quiet", "kind": "consumer", "record-exception": False},
    {"function": "faith_opts.orders:nothing", "record-return": True},
]}

HOOKS = {
    "faith_hooks/__init__.py": '"""The project\'s own hooks around its own functions."""\n',
    "faith_hooks/shop.py": '''\
"""What the hooks wrap."""

CALLED: list[object] = []


def price(amount, currency="EUR"):
    CALLED.append(amount)
    return f"{amount} {currency}"


def total(items):
    return sum(items)


def countdown(n):
    return [n, *countdown(n - 1)] if n else [0]
''',
    "faith_hooks/telemetry.py": '''\
"""The hooks: read and replace parameters and results, skip calls, keep per-call data."""

SEEN: list[object] = []


def before_price(ctx):
    amount = ctx.get_param("amount")
    SEEN.append(("before", ctx.get_func_name(), amount, ctx.get_param("currency")))
    if amount < 0:
        ctx.set_skip_call("refused")
    else:
        ctx.set_param("amount", amount * 100)


def after_total(ctx):
    ctx.set_return_val(ctx.get_return_val() + 1000)


def remember(ctx):
    ctx.set_data(ctx.get_param(0))
    ctx.set_key_data("depth", ctx.get_param("n"))


def recall(ctx):
    SEEN.append((ctx.get_data(), ctx.get_key_data("depth"), ctx.get_return_val()))
''',
}
HOOKS_OTEL = {"hook": [
    {"target": "faith_hooks.shop:price", "before": "faith_hooks.telemetry:before_price"},
    {"target": "faith_hooks.shop:total", "after": "faith_hooks.telemetry:after_total"},
    {"target": "faith_hooks.shop:countdown", "before": "faith_hooks.telemetry:remember",
     "after": "faith_hooks.telemetry:recall"},
]}

FAILING = {
    "faith_fail/__init__.py": '"""Hooks that fail."""\n',
    "faith_fail/shop.py": '''\
"""The calls must still return the right results."""


def fragile(x):
    return x * 10


def brittle(x):
    return x * 100


def unloadable(x):
    return x + 1000
''',
    "faith_fail/telemetry.py": '''\
"""Hooks that raise."""


def broken(ctx):
    raise RuntimeError("the hook is broken")
''',
}
FAILING_OTEL = {"hook": [
    {"target": "faith_fail.shop:fragile", "before": "faith_fail.telemetry:broken"},
    {"target": "faith_fail.shop:brittle", "after": "faith_fail.telemetry:broken"},
    {"target": "faith_fail.shop:unloadable", "before": "faith_fail.telemetry:not_there"},
]}

CAFE = "caf\u00e9"
LATIN1 = ('# -*- coding: latin-1 -*-\r\n"""Latin-1, CRLF."""\r\n\r\n\r\n'
          f'def {CAFE}():\r\n    return "\u00e9t\u00e9"\r\n')
BYTES = {
    "faith_bytes/__init__.py": b'"""Bytes."""\n',
    "faith_bytes/woven.py": LATIN1.encode("latin-1"),
    "faith_bytes/constants.py": b"# no functions here\r\nANSWER = 42\r\nNAME = 'x'\t# tab\r\n",
    "faith_bytes/ignored.py": b"# otel: ignore\n\ndef f():\n\treturn 1\n",
    "faith_bytes/other.py": b"def not_matched():  \n    return 1",
}
BYTES_OTEL = {"trace": [{"function": "faith_bytes.woven:*"},
                        {"function": "faith_bytes.ignored:*", "optional": True}]}

PROJECTS: dict[str, tuple[Mapping[str, str | bytes], Mapping[str, Any]]] = {
    "cases": (CASES, CASES_OTEL),
    "web": (WEB, WEB_OTEL),
    "ignored": (IGNORED, IGNORED_OTEL),
    "options": (OPTIONS, OPTIONS_OTEL),
    "hooks": (HOOKS, HOOKS_OTEL),
    "failing": (FAILING, FAILING_OTEL),
    "bytes": (BYTES, BYTES_OTEL),
}


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def spans() -> Iterator[Spans]:
    """The spans finished during the test, from the session's real SDK provider."""
    EXPORTER.clear()
    yield Spans(EXPORTER)
    EXPORTER.clear()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Build]]:
    """Every project, woven once for the module (imports happen in the tests)."""
    made = {name: build(tmp_path_factory.mktemp(name), files, otel)
            for name, (files, otel) in PROJECTS.items()}
    yield made
    for each in made.values():
        each.close()


@pytest.fixture(scope="module")
def cases(builds: dict[str, Build]) -> tuple[ModuleType, ModuleType]:
    return builds["cases"].pair("faith.core")


@pytest.fixture(scope="module")
def web(builds: dict[str, Build]) -> tuple[ModuleType, ModuleType]:
    return builds["web"].pair("faith_web.app")


def resolve(module: ModuleType, path: str) -> Any:
    value: Any = module
    for part in path.split("."):
        value = getattr(value, part)
    return value


def outcome_of(call: Callable[[], Any]) -> tuple[str, Any]:
    """A call's result, or its exception as (type, args): comparable across the two trees."""
    try:
        return "returned", call()
    except BaseException as exc:
        return "raised", (type(exc).__name__, exc.args)


# -- plain functions, signatures and metadata -----------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m: m.add(1, d=4),
    lambda m: m.add(1, 2, 3, 4, 5, d=6, e=7, f=8, g=9),
    lambda m: m.add(a=1, d=2),  # positional-only passed by keyword: the same TypeError
    lambda m: m.add(1),  # keyword-only missing
    lambda m: m.add(1, 2, 3, c=3, d=1),  # multiple values for c
    lambda m: m.fail("bad"),
    lambda m: m.fail("bad", code=7),
    lambda m: m.fail(),
    lambda m: m.crash(3),
    lambda m: m.factorial(6),
    lambda m: m.outer(5)[0],
    lambda m: m.other(5)[0],
], ids=["defaults", "everything", "posonly-by-name", "kwonly-missing", "duplicate", "raise",
        "raise-kw", "missing-arg", "recursive-raise", "recursion", "nested", "nested-untraced"])
def test_same_results_and_exceptions(cases: tuple[ModuleType, ModuleType],
                                     call: Callable[[ModuleType], Any]) -> None:
    original, woven = cases
    assert outcome_of(lambda: call(woven)) == outcome_of(lambda: call(original))


TRACED = ["add", "fail", "crash", "factorial", "outer", "other", "pause", "echo", "delegate",
          "aecho", "Child.greet", "Child._Child__suffix", "Child.double", "Child.make.__func__",
          "Child.secret.fget", "Child.secret.fset", "Child.__init__", "Singleton.__new__",
          "Singleton.__init_subclass__.__func__", "Shape.area", "Square.area", "first",
          "second", "describe.__wrapped__", "register"]


@pytest.mark.parametrize("path", [*TRACED, "managed", "describe", "Child", "Tagged"])
def test_metadata_unchanged(cases: tuple[ModuleType, ModuleType], path: str) -> None:
    original, woven = cases
    before, after = resolve(original, path), resolve(woven, path)
    for attribute in ("__name__", "__qualname__", "__doc__", "__module__", "__annotations__"):
        assert getattr(after, attribute, None) == getattr(before, attribute, None), attribute
    assert inspect.signature(after) == inspect.signature(before)
    for kind in (inspect.iscoroutinefunction, inspect.isgeneratorfunction,
                 inspect.isasyncgenfunction, inspect.isfunction, inspect.isclass):
        assert kind(after) == kind(before), kind.__name__
    if inspect.isfunction(before):
        assert typing.get_type_hints(after) == typing.get_type_hints(before)


@pytest.mark.parametrize("path", TRACED)
def test_the_woven_function_is_the_traced_one(cases: tuple[ModuleType, ModuleType],
                                              path: str) -> None:
    original, woven = cases
    assert not hasattr(resolve(original, path), "__wrapped__")
    assert inspect.unwrap(resolve(woven, path)) is not resolve(woven, path)


def test_module_docstring_and_names_unchanged(cases: tuple[ModuleType, ModuleType]) -> None:
    original, woven = cases
    assert woven.__doc__ == original.__doc__
    public = {n for n in vars(original) if not n.startswith("__")}
    assert {n for n in vars(woven) if not n.startswith("__")} == public | {RUNTIME_ALIAS}


def test_plain_function_span(cases: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    _, woven = cases
    assert woven.add(1, d=1) == 10
    span = spans.one("add")
    assert span.kind is SpanKind.INTERNAL and span.status.status_code is StatusCode.UNSET
    with pytest.raises(ValueError, match="bad"):
        woven.fail("bad")
    failed = spans.one("fail")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "ValueError"
    assert [e.name for e in failed.events] == ["exception"]


def test_recursion_nests_spans(cases: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    original, woven = cases
    assert woven.factorial(5) == original.factorial(5) == 120
    chain = spans.named("factorial")
    assert len(chain) == 5
    by_id = {s.context.span_id: s for s in chain}
    roots = [s for s in chain if s.parent is None or s.parent.span_id not in by_id]
    assert len(roots) == 1
    depth, span = 1, roots[0]
    while (children := [s for s in chain if s.parent and s.parent.span_id == span.context.span_id]):
        assert len(children) == 1
        depth, span = depth + 1, children[0]
    assert depth == 5


def test_nested_functions_only_traced_when_the_pattern_asks(
        cases: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    original, woven = cases
    assert woven.outer(1)[0] == original.outer(1)[0]
    assert woven.other(3)[0] == original.other(3)[0]
    assert sorted(s.name for s in spans()) == ["other", "outer", "outer.<locals>.inner"]
    assert hasattr(woven.outer(1)[1], "__wrapped__")
    assert not hasattr(woven.other(1)[1], "__wrapped__")
    inner = spans.named("outer.<locals>.inner")[0]
    assert inner.parent.span_id == spans.named("outer")[0].context.span_id


# -- methods, super() and private names ------------------------------------------------------------
def test_methods_behave_alike(cases: tuple[ModuleType, ModuleType]) -> None:
    original, woven = cases

    def exercise(m: ModuleType) -> list[Any]:
        child = m.Child.make(7)
        results = [child.greet("bob"), m.Child.double(4), child.double(5), child.secret]
        child.secret = 9
        results += [child.secret, child._Child__secret, child.greet("al"), m.Tagged.tag,
                    m.Singleton() is m.Singleton(), m.Square(3).area(),
                    outcome_of(lambda: m.Shape()), outcome_of(lambda: m.Child.__suffix)]
        return results

    assert exercise(woven) == exercise(original)
    for name, kind in [("double", staticmethod), ("make", classmethod), ("secret", property)]:
        assert type(vars(woven.Child)[name]) is type(vars(original.Child)[name]) is kind
    assert woven.Shape.__abstractmethods__ == original.Shape.__abstractmethods__ == {"area"}


def test_super_and_private_names_inside_traced_methods(cases: tuple[ModuleType, ModuleType],
                                                       spans: Spans) -> None:
    _, woven = cases
    assert woven.Child(3).greet("x") == "HELLO X #3"
    greet = spans.one("Child.greet")
    for name in ("Base.greet", "Child.__suffix"):
        assert spans.one(name).parent.span_id == greet.context.span_id
    assert spans.one("Child.__init__").parent is None


# -- coroutines, generators, async generators ------------------------------------------------------
def test_coroutine_stays_a_coroutine_and_is_traced_over_its_life(
        cases: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    original, woven = cases
    assert inspect.iscoroutinefunction(woven.pause)
    assert asyncio.run(woven.pause(0.05)) == asyncio.run(original.pause(0.05)) == 0.1
    span = spans.one("pause")
    assert span.end_time - span.start_time >= 49_000_000  # the sleep, less clock jitter
    failed = outcome_of(lambda: asyncio.run(woven.pause(0, fail=True)))
    assert failed == outcome_of(lambda: asyncio.run(original.pause(0, fail=True)))
    assert failed == ("raised", ("KeyError", ("boom", 0)))
    assert spans.named("pause")[-1].status.status_code is StatusCode.ERROR


def test_coroutine_span_is_current_in_its_body(cases: tuple[ModuleType, ModuleType],
                                               spans: Spans) -> None:
    _, woven = cases

    async def main() -> None:
        await asyncio.gather(woven.pause(0.001), woven.pause(0.002))

    asyncio.run(main())
    assert len(spans.named("pause")) == 2
    assert all(s.parent is None for s in spans.named("pause"))


GENERATOR_SCRIPTS = {
    "send-throw-return": [("send", "early"), ("next", None), ("send", "a"),
                          ("throw", ValueError("v")), ("send", "b"), ("next", None)],
    "close": [("next", None), ("close", None), ("next", None), ("close", None)],
    "uncaught-throw": [("next", None), ("throw", KeyError("k")), ("next", None)],
    "close-unstarted": [("close", None), ("next", None)],
    "throw-unstarted": [("throw", ValueError("first")), ("next", None)],
    "exhaust": [("next", None)] * 5,
}


def drive(generator: Any, script: list[tuple[str, Any]]) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []
    for operation, argument in script:
        try:
            if operation == "next":
                result = next(generator)
            elif operation == "send":
                result = generator.send(argument)
            elif operation == "throw":
                result = generator.throw(argument)
            else:
                result = generator.close()
            seen.append((operation, "yielded", result))
        except StopIteration as stop:
            seen.append((operation, "returned", stop.value))
        except Exception as exc:
            seen.append((operation, "raised", type(exc).__name__, exc.args))
    return seen


@pytest.mark.parametrize("script", GENERATOR_SCRIPTS.values(), ids=GENERATOR_SCRIPTS.keys())
def test_generator_semantics_identical(cases: tuple[ModuleType, ModuleType],
                                       script: list[tuple[str, Any]], spans: Spans) -> None:
    original, woven = cases
    assert inspect.isgeneratorfunction(woven.echo)
    runs = []
    for module in (original, woven):
        module.EVENTS.clear()
        runs.append((drive(module.echo(3), script), list(module.EVENTS)))
    assert runs[1] == runs[0]
    if script[0][0] not in ("close", "throw"):  # a generator never started opens no span
        assert len(spans.named("echo")) == 1


def test_generator_return_value_through_yield_from(cases: tuple[ModuleType, ModuleType],
                                                   spans: Spans) -> None:
    original, woven = cases
    script = [("next", None), ("send", "x"), ("send", "y")]
    seen = drive(woven.delegate(2), script)
    assert seen == drive(original.delegate(2), script)
    assert seen[-1] == ("send", "returned", ("delegated", 1))
    outer, inner = spans.named("delegate")[0], spans.named("echo")[0]
    assert inner.parent.span_id == outer.context.span_id


def test_generator_span_covers_the_whole_iteration(cases: tuple[ModuleType, ModuleType],
                                                   spans: Spans) -> None:
    _, woven = cases
    generator = woven.echo(3)
    assert next(generator) == 0
    first = time.time_ns()
    assert spans.named("echo") == []
    assert trace.get_current_span() is trace.INVALID_SPAN  # current only while the body runs
    assert [next(generator), next(generator)] == [1, 2]
    last = time.time_ns()
    assert spans.named("echo") == []
    with pytest.raises(StopIteration) as stop:
        next(generator)
    assert stop.value.value == 3
    span = spans.one("echo")
    assert span.start_time <= first and span.end_time >= last


def test_generator_span_is_current_while_the_body_runs(cases: tuple[ModuleType, ModuleType],
                                                       spans: Spans) -> None:
    _, woven = cases
    generator = woven.child_span_inside()
    seen = next(generator)
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert list(generator) == ["done"]
    outer, inside = spans.one("child_span_inside"), spans.one("inside")
    assert seen == outer.context.span_id
    assert inside.parent.span_id == outer.context.span_id


def test_contextmanager_generator(cases: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    original, woven = cases

    def use(m: ModuleType, suppress: bool, fail: bool) -> tuple[Any, ...]:
        m.EVENTS.clear()

        def body() -> str:
            with m.managed(suppress) as resource:
                if fail:
                    1 / 0  # noqa: B018
            return str(resource)

        return outcome_of(body), list(m.EVENTS)

    for suppress, fail in [(True, True), (False, True), (False, False)]:
        assert use(woven, suppress, fail) == use(original, suppress, fail)
    assert len(spans.named("managed")) == 3


ASYNC_SCRIPTS = {
    "asend-athrow-return": [("asend", "early"), ("asend", None), ("asend", "a"),
                            ("athrow", ValueError("v")), ("asend", "b"), ("asend", None)],
    "aclose": [("asend", None), ("aclose", None), ("asend", None)],
    "uncaught-athrow": [("asend", None), ("athrow", KeyError("k")), ("asend", None)],
    "aclose-unstarted": [("aclose", None), ("asend", None)],
}


async def adrive(generator: Any, script: list[tuple[str, Any]]) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []
    for operation, argument in script:
        try:
            if operation == "asend":
                result = await generator.asend(argument)
            elif operation == "athrow":
                result = await generator.athrow(argument)
            else:
                result = await generator.aclose()
            seen.append((operation, "yielded", result))
        except StopAsyncIteration:
            seen.append((operation, "stopped"))
        except Exception as exc:
            seen.append((operation, "raised", type(exc).__name__, exc.args))
    return seen


@pytest.mark.parametrize("script", ASYNC_SCRIPTS.values(), ids=ASYNC_SCRIPTS.keys())
def test_async_generator_semantics_identical(cases: tuple[ModuleType, ModuleType],
                                             script: list[tuple[str, Any]],
                                             spans: Spans) -> None:
    original, woven = cases
    assert inspect.isasyncgenfunction(woven.aecho)
    runs = []
    for module in (original, woven):
        module.EVENTS.clear()
        runs.append((asyncio.run(adrive(module.aecho(3), script)), list(module.EVENTS)))
    assert runs[1] == runs[0]
    if script[0][0] != "aclose":
        assert len(spans.named("aecho")) == 1


def test_async_generator_span_ends_after_exhaustion(cases: tuple[ModuleType, ModuleType],
                                                    spans: Spans) -> None:
    _, woven = cases

    async def consume() -> list[int]:
        items = []
        async for item in woven.aecho(3):
            items.append(item)
            assert spans.named("aecho") == []
        return items

    assert asyncio.run(consume()) == [0, 1, 2]
    assert spans.one("aecho").status.status_code is StatusCode.UNSET


def test_bad_arguments_surface_on_first_use(cases: tuple[ModuleType, ModuleType]) -> None:
    """The same TypeError, once the generator or coroutine runs (see the xfail below)."""
    original, woven = cases
    assert outcome_of(lambda: next(woven.echo())) == outcome_of(lambda: original.echo())
    assert outcome_of(lambda: asyncio.run(woven.pause())) == outcome_of(lambda: original.pause())
    assert outcome_of(lambda: asyncio.run(woven.aecho().asend(None))) == outcome_of(
        lambda: original.aecho())


@pytest.mark.xfail(strict=True, reason="the traced twin of a generator, coroutine or async "
                   "generator function is itself one (so inspect still says what it is), so it "
                   "binds the arguments when first resumed, not when called")
@pytest.mark.parametrize("call", [lambda m: m.echo(), lambda m: m.pause(), lambda m: m.aecho()],
                         ids=["generator", "coroutine", "async-generator"])
def test_bad_arguments_fail_at_the_call(cases: tuple[ModuleType, ModuleType],
                                        call: Callable[[ModuleType], Any]) -> None:
    original, woven = cases
    with pytest.raises(TypeError):
        call(original)
    with pytest.raises(TypeError):
        leftover = call(woven)
        getattr(leftover, "close", lambda: None)()  # no "never awaited" warning


@pytest.mark.xfail(strict=True, raises=RecursionError, reason="each traced call adds the "
                   "trampoline's frame, so a recursion close to the limit overflows sooner")
def test_recursion_depth_is_unchanged(cases: tuple[ModuleType, ModuleType]) -> None:
    original, woven = cases
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)
    try:
        assert original.factorial(40) > 0
        assert woven.factorial(40) == original.factorial(40)
    finally:
        sys.setrecursionlimit(limit)


# -- decorators that register the function ---------------------------------------------------------
def test_registering_decorators_get_the_traced_function(cases: tuple[ModuleType, ModuleType],
                                                        spans: Spans) -> None:
    original, woven = cases
    assert woven.REGISTRY["first"] is woven.first and woven.DISPATCH["second"] is woven.second
    assert set(woven.REGISTRY) == set(original.REGISTRY) == {"first", "second"}
    assert woven.REGISTRY["first"](1) == original.REGISTRY["first"](1) == 2
    assert woven.DISPATCH["second"](1) == 3
    assert [s.name for s in spans()] == ["first", "second"]


def test_singledispatch_register_by_annotation(cases: tuple[ModuleType, ModuleType],
                                               spans: Spans) -> None:
    original, woven = cases
    for value in (3, "x", 2.5):
        assert woven.describe(value) == original.describe(value)
    assert set(woven.describe.registry) == set(original.describe.registry) == {object, int, str}
    assert all(hasattr(f, "__wrapped__") for f in woven.describe.registry.values())
    assert [s.name for s in spans()] == ["_", "_", "describe"]


def test_flask_routes_hold_the_traced_view(web: tuple[ModuleType, ModuleType],
                                           spans: Spans) -> None:
    original, woven = web
    assert woven.app.view_functions["hello"] is woven.hello
    assert woven.hello.__wrapped__.__name__ == "hello"
    assert sorted(woven.app.view_functions) == sorted(original.app.view_functions)
    answers = []
    for module in (original, woven):
        client = module.app.test_client()
        for path in ("/hello/bob", "/boom", "/nope"):
            with client.get(path) as response:  # closing the body ends the server span
                answers.append((module.__name__, response.status_code, response.get_data()))
    assert answers[3:] == answers[:3]
    view, server = spans.one("hello"), spans.one("GET /hello/<name>")
    assert server.kind is SpanKind.SERVER and view.parent.span_id == server.context.span_id
    assert spans.one("boom").status.status_code is StatusCode.ERROR
    failed = spans.one("GET /boom")
    assert failed.attributes["http.route"] == "/boom"
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "RuntimeError"


def test_a_flask_exception_that_propagates_is_named_after_its_route(
        web: tuple[ModuleType, ModuleType], spans: Spans) -> None:
    """Under TESTING no 500 response starts: the route comes with the error, at teardown."""
    _, woven = web
    woven.app.testing = True
    try:
        with pytest.raises(RuntimeError, match="boom"):
            woven.app.test_client().get("/boom")
    finally:
        woven.app.testing = False
    failed = spans.one("GET /boom")
    assert failed.attributes["http.route"] == "/boom"
    assert failed.attributes["error.type"] == "RuntimeError"
    assert "http.response.status_code" not in failed.attributes


def test_click_command_invokes_the_traced_callback(web: tuple[ModuleType, ModuleType],
                                                   spans: Spans) -> None:
    original, woven = web
    assert woven.greet.callback.__wrapped__.__name__ == "greet"
    assert woven.greet.help == original.greet.help == "Greet NAME."
    assert [p.name for p in woven.greet.params] == [p.name for p in original.greet.params]
    runner = click.testing.CliRunner()
    for arguments in (["--count", "2", "bob"], [], ["--count", "x", "al"]):
        got, want = runner.invoke(woven.greet, arguments), runner.invoke(original.greet, arguments)
        assert (got.exit_code, got.output) == (want.exit_code, want.output)
    assert len(spans.named("greet")) == 1


# -- tracebacks and line numbers -------------------------------------------------------------------
def frames(build: Build, error: BaseException) -> list[tuple[str, int | None, str]]:
    """The traceback's frames in the project's own files (the runtime's are the woven extras)."""
    found = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        for root in (build.source, build.tree):
            if path.is_relative_to(root) and "_otel" not in path.relative_to(root).parts:
                found.append((path.relative_to(root).as_posix(), frame.lineno, frame.name))
    return found


@pytest.mark.parametrize("call", [lambda m: m.fail("x"), lambda m: m.crash(2),
                                  lambda m: m.Square("a").area(),
                                  lambda m: asyncio.run(m.pause(0, fail=True)),
                                  lambda m: list(m.delegate("not a number"))],
                         ids=["raise", "recursion", "method", "coroutine", "generator"])
def test_tracebacks_point_at_the_original_lines(builds: dict[str, Build],
                                                cases: tuple[ModuleType, ModuleType],
                                                call: Callable[[ModuleType], Any]) -> None:
    original, woven = cases
    errors = []
    for module in (original, woven):
        with pytest.raises(Exception) as info:
            call(module)
        errors.append(info.value)
    assert frames(builds["cases"], errors[1]) == frames(builds["cases"], errors[0])
    assert frames(builds["cases"], errors[0])


def statements(source: str) -> list[tuple[int, int | None, str]]:
    """(line, end line, type) of every statement, except the runtime import the weaver adds."""
    return [(node.lineno, node.end_lineno, type(node).__name__)
            for node in ast.walk(ast.parse(source)) if isinstance(node, ast.stmt)
            and not (isinstance(node, ast.Import)
                     and any(alias.asname == RUNTIME_ALIAS for alias in node.names))]


class _Peel(ast.NodeTransformer):
    """Undo the weave in a woven tree: drop the runtime import, `fn(...)` decorators,
    `then(dec, rule)` -> `dec` and `at(rule, callee)(args)` -> `callee(args)`."""

    @staticmethod
    def runtime_call(node: ast.AST, name: str) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == RUNTIME_ALIAS
                and node.func.attr == name)

    def visit_Import(self, node: ast.Import) -> ast.AST | None:
        return None if any(a.asname == RUNTIME_ALIAS for a in node.names) else node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.decorator_list = [d.args[0] if self.runtime_call(d, "then") else d
                               for d in node.decorator_list if not self.runtime_call(d, "fn")]
        return self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if self.runtime_call(node.func, "at"):
            assert isinstance(node.func, ast.Call)
            node.func = node.func.args[1]
        return self.generic_visit(node)


def lines_of(tree: ast.AST) -> list[tuple[str, int, int | None]]:
    return [(type(n).__name__, n.lineno, n.end_lineno) for n in ast.walk(tree)
            if hasattr(n, "lineno")]


@pytest.mark.parametrize("name", list(PROJECTS))
def test_every_statement_keeps_its_line(builds: dict[str, Build], name: str) -> None:
    outcome = builds[name].outcome
    assert outcome.woven
    for woven in outcome.woven:
        encoding = "latin-1" if b"latin-1" in woven.original else "utf-8"
        before, after = woven.original.decode(encoding), woven.woven.decode(encoding)
        assert statements(after) == statements(before), woven.module.file.distribution_path
        assert not any(site.added_line for site in woven.result.sites)
        peeled, original = _Peel().visit(ast.parse(after)), ast.parse(before)
        assert ast.dump(peeled) == ast.dump(original)  # the weave adds trampolines, nothing else
        assert lines_of(peeled) == lines_of(original)


TIGHT = {"faith_tight/__init__.py": '"""Tight."""\n', "faith_tight/mod.py": (
    "class Tight:\n    def method(self):\n        return 1\n\n\nAFTER = 2\n")}


def test_a_function_without_a_free_line_above_says_a_line_was_added(tmp_path: Path) -> None:
    outcome = build(tmp_path, TIGHT, {"trace": [{"function": "faith_tight.mod:*"}]}).outcome
    [site] = [s for s in outcome.sites if s.join_point == "function"]
    assert site.added_line and site.line == 2


@pytest.mark.xfail(strict=True, reason="a method right under `class X:`, last in its class, "
                   "in a class that is the file's first line: no line above or after it, nor "
                   "above its class, is free, so a line is added (reported as added_line)")
def test_a_function_without_a_free_line_above_keeps_its_lines(tmp_path: Path) -> None:
    outcome = build(tmp_path, TIGHT, {"trace": [{"function": "faith_tight.mod:*"}]}).outcome
    [woven] = [w for w in outcome.woven if w.module.module == "faith_tight.mod"]
    assert statements(woven.woven.decode()) == statements(woven.original.decode())


# -- determinism, idempotence, untouched files ----------------------------------------------------
def unit_for(build: Build, woven: Any) -> ModuleInput:
    plan, module = build.outcome.plan, woven.module
    return ModuleInput(module.file.distribution_path, module.module, plan.runtime_package,
                       plan.rules_for(module), module.module in plan.bootstrap_modules)


@pytest.mark.parametrize("name", list(PROJECTS))
def test_weaving_woven_code_changes_nothing(builds: dict[str, Build], name: str) -> None:
    for woven in builds[name].outcome.woven:
        encoding = "latin-1" if b"latin-1" in woven.original else "utf-8"
        text = woven.woven.decode(encoding)
        again = weave_source(text, unit_for(builds[name], woven))
        assert again.source == text and not again.changed


def copy_woven_sources(build: Build, destination: Path) -> list[str]:
    """The woven tree as a project of its own (without the bundled runtime)."""
    shutil.copytree(build.tree, destination,
                    ignore=shutil.ignore_patterns("_otel", "__pycache__"))
    return sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*.py"))


def test_the_pipeline_leaves_a_woven_tree_alone(builds: dict[str, Build],
                                                tmp_path: Path) -> None:
    """With every rule optional (see the xfail below for why), nothing is woven twice."""
    for name, (_, otel) in PROJECTS.items():
        relaxed = {key: [{**rule, "optional": True} for rule in rules]
                   for key, rules in otel.items()}
        paths = copy_woven_sources(builds[name], tmp_path / name)
        again = run(project(tmp_path / name, paths[0].split("/")[0], paths),
                    load(relaxed, tmp_path / name))
        assert again.woven == () and not again.errors, name


def test_the_pipeline_accepts_its_own_output(builds: dict[str, Build], tmp_path: Path) -> None:
    paths = copy_woven_sources(builds["web"], tmp_path / "again")
    again = run(project(tmp_path / "again", "faith_web", paths), load(WEB_OTEL, tmp_path))
    assert again.woven == ()
    assert again.errors == []


def digest(directory: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts):
        sha.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


DIGEST_SCRIPT = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import inprocess
from hatch_otel.bundle import write_bundle
from test_faithful import PROJECTS, digest
with tempfile.TemporaryDirectory() as folder:
    result = {}
    for name, (files, otel) in PROJECTS.items():
        out = Path(folder) / name
        write_bundle(inprocess.weave(Path(folder) / "src" / name, files, otel), out)
        result[name] = digest(out)
print(json.dumps(result))
"""


def test_weaving_is_deterministic(tmp_path: Path) -> None:
    """Two runs (here, and in a process with another hash seed) write identical bytes."""
    here = {}
    for name, (files, otel) in PROJECTS.items():
        out = tmp_path / "out" / name
        write_bundle(build(tmp_path / "a" / name, files, otel).outcome, out)
        twice = build(tmp_path / "b" / name, files, otel).outcome
        assert [w.woven for w in twice.woven] == [
            (out / w.module.file.distribution_path).read_bytes() for w in twice.woven]
        here[name] = digest(out)
    result = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT, str(HERE)],
                            capture_output=True, text=True, check=True, cwd=HERE.parent,
                            env={**os.environ, "PYTHONHASHSEED": "4242"})
    assert json.loads(result.stdout.splitlines()[-1]) == here


def test_files_with_nothing_to_weave_go_in_byte_for_byte(builds: dict[str, Build]) -> None:
    made = builds["bytes"]
    woven = {w.module.file.distribution_path for w in made.outcome.woven}
    assert woven == {"faith_bytes/__init__.py", "faith_bytes/woven.py"}  # the bootstrap
    assert set(made.outcome.plan.bootstrap_modules) == {"faith_bytes"}
    for path in ("faith_bytes/constants.py",
                 "faith_bytes/ignored.py", "faith_bytes/other.py"):
        assert (made.tree / path).read_bytes() == BYTES[path]


def test_encoding_and_newlines_survive_weaving(builds: dict[str, Build]) -> None:
    made = builds["bytes"]
    raw = (made.tree / "faith_bytes/woven.py").read_bytes()
    text = raw.decode("latin-1")
    assert raw.count(b"\r\n") == raw.count(b"\n") == LATIN1.count("\n")
    assert text.startswith("# -*- coding: latin-1 -*-\r\n")
    original, woven = made.pair("faith_bytes.woven")
    assert getattr(woven, CAFE)() == getattr(original, CAFE)() == "\u00e9t\u00e9"
    assert hasattr(getattr(woven, CAFE), "__wrapped__")


# -- `# otel: ignore` ------------------------------------------------------------------------------
def test_ignore_markers(builds: dict[str, Build], spans: Spans) -> None:
    made = builds["ignored"]
    original, woven = made.pair("faith_ign.mod")
    ignored = {s.target for s in made.outcome.ignored}
    assert ignored == {"faith_ign.mod:trailing", "faith_ign.mod:leading", "faith_ign.mod:cached",
                       "faith_ign.mod:Skipped.method", "faith_ign.mod:SkippedToo.method",
                       "flask.Flask", "faith_ign.first:first_only"}
    assert {s.target for s in made.outcome.sites if s.join_point == "function"} == {
        "faith_ign.mod:traced", "faith_ign.mod:Kept.method", "faith_ign.first:second"}
    assert getattr(woven.woven_app.wsgi_app, "hatch_otel_instrumented", False)
    assert not getattr(woven.plain_app.wsgi_app, "hatch_otel_instrumented", False)
    calls = [lambda m: m.traced(), lambda m: m.trailing(), lambda m: m.leading(),
             lambda m: m.cached(5), lambda m: m.Skipped().method(),
             lambda m: m.SkippedToo().method(), lambda m: m.Kept().method()]
    assert [c(woven) for c in calls] == [c(original) for c in calls]
    assert sorted(s.name for s in spans()) == ["Kept.method", "traced"]
    assert "faith_ign/whole.py" not in {w.module.file.distribution_path
                                        for w in made.outcome.woven}
    whole, first = made.woven("faith_ign.whole"), made.woven("faith_ign.first")
    assert not hasattr(whole.anything, "__wrapped__")
    assert not hasattr(first.first_only, "__wrapped__") and hasattr(first.second, "__wrapped__")


@pytest.mark.parametrize("header", ["", "#!/usr/bin/env python\n", "# Licence.\n\n"])
def test_a_header_marker_stays_on_the_first_statement(tmp_path: Path, header: str) -> None:
    """The runtime import must not slip between the marker and the def it covers."""
    source = header + "# otel: ignore\ndef first():\n    return 1\n\n\ndef second():\n    pass\n"
    files = {"faith_head/__init__.py": '"""Head."""\n', "faith_head/mod.py": source}
    made = build(tmp_path, files, {"trace": [{"function": "faith_head.mod:*"}]})
    [woven] = [w for w in made.outcome.woven if w.module.module == "faith_head.mod"]
    assert [s.target for s in made.outcome.ignored] == ["faith_head.mod:first"]
    text = woven.woven.decode()
    assert text.startswith(header.split("\n")[0])  # a shebang or licence stays first
    assert weave_source(text, unit_for(made, woven)).source == text
    bootstrap = woven.result.sites[0]
    if bootstrap.added_line:  # no free line: only then may the later statements move
        assert [(n + 1, t) for n, _, t in statements(woven.original.decode())] == [
            (n, t) for n, _, t in statements(text)]
    else:
        assert statements(text) == statements(woven.original.decode())
    assert bootstrap.added_line == (not header.endswith("\n\n"))
    mod = made.woven("faith_head.mod")
    try:
        assert not hasattr(mod.first, "__wrapped__") and hasattr(mod.second, "__wrapped__")
    finally:
        made.close()


# -- the trace rule's options ----------------------------------------------------------------------
def test_trace_options(builds: dict[str, Build], spans: Spans) -> None:
    original, woven = builds["options"].pair("faith_opts.orders")

    def order(m: ModuleType) -> Any:
        return m.Order(17, m.Customer("ada"), 2.5)

    assert woven.place(order(woven), 4) == original.place(order(original), 4) == 10.0
    placed = spans.one("place 17 x4")
    assert placed.kind is SpanKind.CLIENT
    assert dict(placed.attributes) == {"order.id": 17, "order.customer": "ada",
                                       "order.quantity": 4, "code.return_value": 10.0}
    woven.place(order(woven), quantity=2, note="gift")
    assert spans.one("place 17 x2").attributes["order.note"] == "gift"

    assert woven.lookup({"user": {"name": "bo"}}) == "bo"
    looked = spans.one("lookup bo")
    assert looked.kind is SpanKind.SERVER and dict(looked.attributes) == {"user": "bo"}

    for name in ("explode", "quiet"):
        assert outcome_of(lambda n=name: getattr(woven, n)(order(woven))) == outcome_of(
            lambda n=name: getattr(original, n)(order(original)))
    exploded = spans.one("faith_opts.orders.explode")
    assert exploded.kind is SpanKind.PRODUCER
    assert exploded.status.status_code is StatusCode.ERROR
    assert [e.name for e in exploded.events] == ["exception"]
    assert exploded.events[0].attributes["exception.message"] == "('no stock', 17)"
    quiet = spans.one("quiet")
    assert quiet.kind is SpanKind.CONSUMER and not quiet.events
    assert quiet.status.status_code is StatusCode.ERROR
    assert quiet.attributes["error.type"] == "RuntimeError"

    assert woven.nothing() is None
    assert "code.return_value" not in spans.one("nothing").attributes


def test_span_name_template_tolerates_absent_parameters(builds: dict[str, Build],
                                                        spans: Spans,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _, woven = builds["options"].pair("faith_opts.orders")
    with pytest.raises(KeyError):
        woven.lookup({})
    assert spans.one("lookup ").status.status_code is StatusCode.ERROR
    assert not [r for r in caplog.records if r.name == "hatch_otel"]


# -- the project's own hooks -----------------------------------------------------------------------
def test_hooks_read_replace_skip_and_keep_data(builds: dict[str, Build], spans: Spans) -> None:
    original, woven = builds["hooks"].pair("faith_hooks.shop")
    telemetry = sys.modules["faith_hooks.telemetry"]
    assert original.price(5) == "5 EUR"
    assert woven.price(5) == "500 EUR"  # before replaced the parameter
    assert woven.price(amount=5, currency="GBP") == "500 GBP"  # passed by keyword this time
    assert woven.price(-1) == "refused"  # skipped: the body never ran
    assert woven.CALLED == [500, 500]
    # a parameter the caller left out reads as the function's own default
    assert telemetry.SEEN == [("before", "price", 5, "EUR"), ("before", "price", 5, "GBP"),
                              ("before", "price", -1, "EUR")]
    assert woven.total([1, 2]) == original.total([1, 2]) + 1000  # after replaced the result
    telemetry.SEEN.clear()
    assert woven.countdown(2) == original.countdown(2) == [2, 1, 0]
    assert telemetry.SEEN == [(0, 0, [0]), (1, 1, [1, 0]), (2, 2, [2, 1, 0])]  # per call
    assert spans() == []  # hook rules open no span of their own


def test_failing_hooks_never_reach_the_app(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hatch_otel")
    made = build(tmp_path, FAILING, FAILING_OTEL)
    try:
        original, woven = made.pair("faith_fail.shop")
        for x in range(3):
            for name in ("fragile", "brittle", "unloadable"):
                assert getattr(woven, name)(x) == getattr(original, name)(x)
        report = sys.modules["faith_fail._otel.report"]
        assert report.hook_errors == {"hook.0: before": 3, "hook.1: after": 3,
                                      "hook.2: loading hooks": 1}
    finally:
        made.close()
    logged = [r for r in caplog.records if r.name == "hatch_otel"]
    assert sorted(r.getMessage().split()[2] for r in logged) == ["hook.0:", "hook.1:", "hook.2:"]
    assert all(r.exc_info for r in logged)


# -- functions with no free line above: rebound after, or wrapped by their class ----------------
ROOMLESS = {"faith_roomless/__init__.py": '"""Roomless."""\n', "faith_roomless/mod.py": (
    "import functools\n"
    "\n"
    "class Tight:\n"
    "    def first(self):\n"
    "        return 'first'\n"
    "    def __hidden(self):\n"
    "        return 'hidden'\n"
    "    def reveal(self):\n"
    "        return self.__hidden()\n"
    "    LIMIT = 3\n"
    "\n"
    "\n"
    "@functools.total_ordering\n"
    "class Ordered:\n"
    "    def __init__(self, rank):\n"
    "        self.rank = rank\n"
    "    def __eq__(self, other):\n"
    "        return self.rank == other.rank\n"
    "    def __lt__(self, other):\n"
    "        return self.rank < other.rank\n"
    "\n"
    "\n"
    "LIMIT = 1\n"
    "def helper():\n"
    "    return 'helped'\n"
    "HELPERS = {'helper': helper}\n")}


def test_functions_without_a_free_line_keep_their_lines_and_are_traced(
        tmp_path: Path, spans: Spans) -> None:
    made = build(tmp_path, ROOMLESS, {"trace": [{"function": "faith_roomless.mod:*"}]})
    try:
        [woven] = [w for w in made.outcome.woven if w.module.module == "faith_roomless.mod"]
        assert not any(site.added_line for site in woven.result.sites)
        assert "helper = _hatch_otel.fn(" in woven.woven.decode()  # shares HELPERS' line
        assert '@_hatch_otel.members(None, {"first": ' in woven.woven.decode()
        original, traced = made.pair("faith_roomless.mod")
        assert traced.Tight().first() == original.Tight().first() == "first"
        assert traced.Tight().reveal() == "hidden"
        assert traced.HELPERS["helper"] is traced.helper  # the registry holds the traced one
        assert traced.helper() == "helped"
        assert (traced.Ordered(1) < traced.Ordered(2)) and traced.Ordered(2) >= traced.Ordered(1)
        names = {s.name for s in spans()}
        assert {"Tight.first", "Tight.reveal", "Tight.__hidden", "helper",
                "Ordered.__lt__"} <= names
        lines = [(n.lineno, type(n).__name__) for n in ast.walk(ast.parse(woven.woven.decode()))
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Return))]
        assert lines == [(n.lineno, type(n).__name__)
                         for n in ast.walk(ast.parse(woven.original.decode()))
                         if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Return))]
    finally:
        made.close()
