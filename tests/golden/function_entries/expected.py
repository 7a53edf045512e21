import shop._otel as _hatch_otel; import functools
from typing import overload

registry = {}

@_hatch_otel.fn("trace.0")
def register(function):
    registry[function.__name__] = function
    return function

@_hatch_otel.fn("trace.0")  # a comment line above a function takes the decorator, and keeps its text
def commented():
    return 1

@register
@_hatch_otel.then(functools.lru_cache(maxsize=None), "trace.0")
def decorated(x):
    return x * 2


class Service:
    """A service."""
    @_hatch_otel.fn("trace.0")
    def method(self):
        def helper():
            return 3
        return helper()

    @_hatch_otel.then(staticmethod, "trace.0")
    def static():
        return 4

    @_hatch_otel.then(property, "trace.0")
    def value(self):
        return 5
    @_hatch_otel.fn("trace.0")
    async def fetch(self):
        return 6
    @_hatch_otel.fn("trace.0")
    def stream(self):
        yield 7


@overload
def parse(x: int) -> int: ...
@overload
def parse(x: str) -> str: ...
def parse(x):
    return x
parse = _hatch_otel.fn("trace.0")(parse)
PARSERS = [parse]

@_hatch_otel.members(None, {"first": "trace.0"})
class Tight:
    def first(self):
        return "no free line above: rebound on the blank line below"
    @_hatch_otel.fn("trace.0")
    def second(self):
        return 2
    VALUE = 3

@_hatch_otel.fn("trace.0")
def alias(x):
    return x
ALIAS = alias
