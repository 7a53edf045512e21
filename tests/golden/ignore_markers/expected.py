import shop._otel as _hatch_otel; import sqlite3

@_hatch_otel.fn("trace.0")
def statement_level():
    a = _hatch_otel.at("sqlite3.connect", sqlite3.connect)("a")
    b = sqlite3.connect("b")  # otel: ignore
    return a, b


def function_level():  # otel: ignore
    return sqlite3.connect("c")


# otel: ignore
def leading_comment():
    return sqlite3.connect("d")


class Ignored:  # otel: ignore

    def method(self):
        return sqlite3.connect("e")

@_hatch_otel.fn("trace.0")
def traced():
    return _hatch_otel.at("sqlite3.connect", sqlite3.connect)("f")
