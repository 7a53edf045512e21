import sqlite3


def statement_level():
    a = sqlite3.connect("a")
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


def traced():
    return sqlite3.connect("f")
