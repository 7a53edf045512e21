"""The fast path of name resolution, and when it hands over to libcst's scopes."""

from __future__ import annotations

from hatch_otel.names import Aliases, unambiguous_aliases


def _resolve(aliases: Aliases, expression: str) -> set[str]:
    return aliases.resolve_dotted(expression.split("."))


def test_imports_alone_resolve_without_scopes() -> None:
    source = ("import flask\nimport urllib.request\nimport sqlite3 as lite\n"
              "from urllib.request import urlopen as fetch\nfrom . import helpers\n")
    aliases = unambiguous_aliases(source, "shop.app", ["flask.Flask", "sqlite3.connect"])
    assert aliases is not None
    assert _resolve(aliases, "flask.Flask") == {"flask.Flask"}
    assert _resolve(aliases, "lite.connect") == {"sqlite3.connect"}
    assert _resolve(aliases, "fetch") == {"urllib.request.urlopen"}
    assert _resolve(aliases, "urllib.request.urlopen") == {"urllib.request.urlopen"}
    assert _resolve(aliases, "helpers.run") == {"shop.helpers.run"}
    assert _resolve(aliases, "open") == set()


def test_a_name_bound_otherwise_too_is_left_to_libcst() -> None:
    for other in ("connect = 1\n", "def f(connect): pass\n", "for connect in x: pass\n",
                  "with x as connect: pass\n", "class connect: pass\n",
                  "from os import *\n", "from psycopg import connect\n"):
        source = "from sqlite3 import connect\n" + other
        assert unambiguous_aliases(source, "m", ["sqlite3.connect"]) is None, other


def test_bindings_unrelated_to_the_targets_keep_the_fast_path() -> None:
    source = "import json\nfrom sqlite3 import connect\njson = None\n"
    assert unambiguous_aliases(source, "m", ["sqlite3.connect"]) is not None
