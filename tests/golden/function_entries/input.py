import functools
from typing import overload

registry = {}


def register(function):
    registry[function.__name__] = function
    return function

# a comment line above a function takes the decorator, and keeps its text
def commented():
    return 1

@register
@functools.lru_cache(maxsize=None)
def decorated(x):
    return x * 2


class Service:
    """A service."""

    def method(self):
        def helper():
            return 3
        return helper()

    @staticmethod
    def static():
        return 4

    @property
    def value(self):
        return 5

    async def fetch(self):
        return 6

    def stream(self):
        yield 7


@overload
def parse(x: int) -> int: ...
@overload
def parse(x: str) -> str: ...
def parse(x):
    return x

PARSERS = [parse]


class Tight:
    def first(self):
        return "no free line above: rebound on the blank line below"

    def second(self):
        return 2
    VALUE = 3


def alias(x):
    return x
ALIAS = alias
