"""Call sites spliced as text at `ast` positions must be exactly what libcst's transformers
write, and every module the splicer is not sure of must go to libcst."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from hatch_otel.rules import Rule
from hatch_otel.sites import ModuleInput
from hatch_otel.splice import splice_calls
from hatch_otel.transform import weave_module

CALL_RULES = tuple(
    Rule(id=f"rule{i}", library="test", join_point="call", target=target)
    for i, target in enumerate(["sqlite3.connect", "flask.Flask", "urllib.request.urlopen",
                                "os.path.join", "re.compile", "json.*", "subprocess.*",
                                "warnings.warn", "functools.*"]))


def _unit(bootstrap: bool = False, rules: tuple[Rule, ...] = CALL_RULES) -> ModuleInput:
    return ModuleInput("shop/app.py", "shop.app", "shop._otel", rules, bootstrap)


def _assert_same_as_libcst(source: str, unit: ModuleInput) -> bool:
    """True when the splicer took the module (and then agreed with libcst)."""
    spliced = splice_calls(source, unit)
    if spliced is None:
        return False
    assert spliced == weave_module(source, unit)
    return True


SPLICED = {
    "docstring": '"""Doc."""\nimport sqlite3\nsqlite3.connect(":memory:")\n',
    "docstring and comment": '"""Doc."""  # note\nimport sqlite3\nsqlite3.connect("x")\n',
    "multi-line docstring": '"""Doc,\nlong.\n"""\nimport sqlite3\n\nsqlite3.connect("x")\n',
    "future imports": ('"""Doc."""\nfrom __future__ import annotations\n'
                       'from __future__ import division\nimport sqlite3\nsqlite3.connect("x")\n'),
    "first statement": 'import sqlite3\nsqlite3.connect("x")\n',
    "header comments": '#!/usr/bin/env python\n# a comment\n\nimport sqlite3\nsqlite3.connect(1)\n',
    "call first, import later": 'sqlite3.connect(":memory:")\nimport sqlite3\n',
    "aliases": ('from urllib.request import urlopen as fetch\nimport flask as f\n'
                'app = f.Flask(__name__)\nfetch("http://x")\n'),
    "nested": 'import json\nimport os.path\nx = json.dumps(os.path.join("a", json.loads("1")))\n',
    "decorators and keywords": ('import functools\n\n\n@functools.lru_cache(maxsize=None)\n'
                                'def f(*a, k=functools.partial(print), **kw):\n'
                                '    return functools.reduce(max, a)\n'),
    "non-ASCII before the call": 'import re\nnamé = "é"; rx = re.compile(namé)  # é\n',
    "CRLF": 'import re\r\n\r\nrx = re.compile("a")\r\nry = re.compile("b")\r\n',
    "space before the arguments": 'import re\nrx = re.compile ("a")\nry = re.compile(\n  "b")\n',
    "multi-line callee": 'import os\np = (os.path.\n     join("a", "b"))\n',
    "parenthesised call": 'import re\nrx = (\n    re.compile("a")\n)\n',
    "lambda and comprehension": ('import re\nf = lambda: re.compile("a")\n'
                                 'xs = [re.compile(p) for p in "ab"]\n'),
    "nothing to weave": 'import re\nX = 1\n',
    "empty": '',
}

LEFT_TO_LIBCST = {
    "a compound first statement": 'def f():\n    import re\n    return re.compile("a")\n',
    "otel: ignore": 'import re\nrx = re.compile("a")  # otel: ignore\n',
    "woven before": 'import shop._otel as _hatch_otel; import re\nrx = re.compile("a")\n',
    "parenthesised callee": 'import re\nrx = (re.compile)("a")\n',
    "inside an f-string": 'import re\nx = f"{re.compile(\'a\')}"\n',
    "shadowed name": 'from re import compile\ncompile = None\nx = compile("a")\n',
    "docstring sharing its line": '"""Doc."""; import re\nx = re.compile("a")\n',
    "trailing semicolon": '"""Doc.""";\nimport re\nx = re.compile("a")\n',
    "does not parse": 'import re\nx = re.compile(\n',
}


@pytest.mark.parametrize("bootstrap", [False, True])
@pytest.mark.parametrize("name", SPLICED)
def test_plain_modules_are_spliced_as_libcst_would_weave_them(name: str, bootstrap: bool) -> None:
    assert _assert_same_as_libcst(SPLICED[name], _unit(bootstrap)), "left to libcst"


@pytest.mark.parametrize("name", LEFT_TO_LIBCST)
def test_anything_less_plain_is_left_to_libcst(name: str) -> None:
    assert splice_calls(LEFT_TO_LIBCST[name], _unit(bootstrap=True)) is None


def test_a_function_rule_leaves_the_module_to_libcst() -> None:
    rules = (*CALL_RULES, Rule(id="f", library="test", join_point="function",
                               target="shop.app:*"))
    assert splice_calls(SPLICED["docstring"], _unit(rules=rules)) is None


def test_the_standard_library_splices_as_libcst_weaves_it() -> None:
    """A stride through the standard library's modules, with rules for APIs they call."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    spliced = 0
    for path in sorted(stdlib.glob("*.py"))[::6]:
        source = path.read_text("utf-8")
        unit = ModuleInput(path.name, f"lib.{path.stem}", "lib._otel", CALL_RULES)
        result = splice_calls(source, unit)
        if result is not None and result.sites:
            assert result == weave_module(source, unit), path
            spliced += 1
    assert spliced >= 8  # 10 to 14 modules, by Python version
