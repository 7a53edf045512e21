"""Golden files for the weaver: tests/golden/<case>/{case.toml, input.py, expected.py}.

`case.toml` names the module, whether it is a bootstrap module, and the rules (the fields of
`hatch_otel.rules.Rule`). Regenerate after an intended change with
`HATCH_OTEL_UPDATE_GOLDEN=1 pytest tests/test_golden.py`, then read the diff.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

from hatch_otel.rules import Rule
from hatch_otel.weave import ModuleInput, weave_source

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file())


def _unit(case: Path) -> ModuleInput:
    spec = tomllib.loads((case / "case.toml").read_text())
    rules = tuple(
        Rule(id=r["id"], library=r.get("library", "test"), join_point=r["join-point"],
             target=r.get("target", "*"), decorator=r.get("decorator"))
        for r in spec.get("rules", [])
    )
    return ModuleInput(f"{case.name}.py", spec.get("module", "shop.app"), "shop._otel", rules,
                       spec.get("bootstrap", False))


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = GOLDEN / name
    source = (case / "input.py").read_text()
    woven = weave_source(source, _unit(case)).source
    expected = case / "expected.py"
    if os.environ.get("HATCH_OTEL_UPDATE_GOLDEN") == "1":
        expected.write_text(woven)
    assert woven == expected.read_text()
    assert weave_source(woven, _unit(case)).source == woven, "weaving is not idempotent"
    _assert_statements_keep_their_lines(source, woven)


def _assert_statements_keep_their_lines(source: str, woven: str) -> None:
    """Every original statement starts on the same line (unless a site says a line was added)."""
    def lines(text: str) -> list[tuple[str, int]]:
        return [(type(node).__name__, node.lineno) for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.stmt) and not _woven(node)]

    def _woven(node: ast.stmt) -> bool:
        """The bootstrap import and `f = _hatch_otel.fn(rule)(f)` rebinds: added, not moved."""
        if isinstance(node, ast.Import):
            return any(alias.asname == "_hatch_otel" for alias in node.names)
        return isinstance(node, ast.Assign) and ast.unparse(node.value).startswith(
            "_hatch_otel.fn(")

    if "added_line" not in source:  # cases that exercise the fallback say so in a comment
        assert lines(source) == lines(woven)
