"""Call-site weaving as text splices at `ast` positions, for modules that need nothing else.

Most woven modules only call an instrumented API: `Flask(__name__)`, `sqlite3.connect(path)`.
Weaving them is two insertions per call, `_hatch_otel.at("rule", ` before the callee and `)`
after it, and the runtime import on the docstring's or the first statement's line. The
positions are all in the `ast` tree, which parses ten times faster than libcst and needs no
position or scope analysis, so such modules skip libcst entirely; the result is byte for byte
what the libcst transformers (`transform.py`) write. Anything less plain falls back to them:
function rules, `# otel: ignore`, an earlier weave, names whose meaning depends on the scope,
callees written in parentheses or inside f-strings, and modules whose runtime import cannot go
on the docstring's or the first simple statement's line.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .names import Aliases, ModuleNames
from .rules import Rule
from .sites import (
    IGNORE_MARKER,
    RUNTIME_ALIAS,
    ModuleInput,
    WeaveResult,
    WeaveSite,
    runtime_import_line,
)

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BLANKS = re.compile(r"[ \t\f\r\n\\]*")


def splice_calls(source: str, unit: ModuleInput) -> WeaveResult | None:
    """The woven module, or None when libcst must weave it."""
    if (any(rule.join_point != "call" for rule in unit.rules) or IGNORE_MARKER in source
            or RUNTIME_ALIAS in source):
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None  # libcst reports what is wrong
    names = ModuleNames(tree, unit.module)
    aliases = names.aliases([rule.target for rule in unit.rules])
    if aliases is None:
        return None
    text = _Text(source)
    calls = _call_sites(names.calls, unit.rules, aliases, text)
    if calls is None or any(_within(call, names.fstrings, text) for call in calls):
        return None
    if not calls and not unit.bootstrap:
        return WeaveResult(source)
    anchor = _import_anchor(tree, text)
    if anchor is None:
        return None
    statement = f"import {unit.runtime} as {RUNTIME_ALIAS}"
    if anchor == "empty":
        woven = statement + "\n"
        return WeaveResult(woven, (WeaveSite(unit.path, 1, "bootstrap", "bootstrap",
                                             unit.runtime),))
    offset, after = anchor
    # (offset, order among insertions at that offset, text): the import before all else, an
    # outer call's prefix before an inner one's (`f()()`: the longer callee first)
    insertions = [(offset, -len(source) - 1, f"; {statement}" if after else f"{statement}; ")]
    for site in calls:
        insertions += [(site.start, -site.end, f'{RUNTIME_ALIAS}.at("{site.rule.id}", '),
                       (site.end, 0, ")")]
    woven = text.with_insertions(insertions)
    import_line = runtime_import_line(woven, unit.runtime)
    assert import_line is not None
    # in the order libcst's transformer records them: each call once its arguments are done
    sites = [WeaveSite(unit.path, site.line, "call", site.rule.id, site.name)
             for site in sorted(calls, key=lambda site: site.end_of_call)]
    return WeaveResult(woven, (WeaveSite(unit.path, import_line, "bootstrap", "bootstrap",
                                         unit.runtime), *sites))


@dataclass(frozen=True)
class _CallSite:
    line: int
    start: int
    """Offset of the callee's first character."""
    end: int
    """Offset just after the callee."""
    end_of_call: int
    rule: Rule
    name: str
    """The callee's qualified name."""


class _Text:
    """The source with `ast`'s (line, UTF-8 byte column) positions turned into offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.line_starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]

    def offset(self, line: int, byte_column: int) -> int:
        start = self.line_starts[line - 1]
        end = (self.line_starts[line] if line < len(self.line_starts) else len(self.source))
        text = self.source[start:end]
        if text.isascii():
            return start + byte_column
        return start + len(text.encode()[:byte_column].decode())

    def next_code_character(self, offset: int) -> str:
        """The first character at or after `offset` that is not a space or a line break."""
        end = _BLANKS.match(self.source, offset).end()  # type: ignore[union-attr]
        return self.source[end:end + 1]

    def with_insertions(self, insertions: Sequence[tuple[int, int, str]]) -> str:
        """Insert each text at its offset; at one offset, in the order of the middle key."""
        parts, last = [], 0
        for offset, _, inserted in sorted(insertions, key=lambda i: i[:2]):
            parts += [self.source[last:offset], inserted]
            last = offset
        parts.append(self.source[last:])
        return "".join(parts)


def _call_sites(calls: Sequence[ast.Call], rules: Sequence[Rule], aliases: Aliases,
                text: _Text) -> list[_CallSite] | None:
    """The calls whose callee resolves to a rule's target; None if one is `(callee)(...)`,
    whose parentheses libcst keeps inside the trampoline."""
    found = []
    for call in calls:
        for qualified in sorted(aliases.resolve_dotted(_dotted(call.func))):
            rule = next((r for r in rules if fnmatch.fnmatchcase(qualified, r.target)), None)
            if rule is None:
                continue
            func = call.func
            assert func.end_lineno is not None and func.end_col_offset is not None
            assert call.end_lineno is not None and call.end_col_offset is not None
            start = text.offset(func.lineno, func.col_offset)
            end = text.offset(func.end_lineno, func.end_col_offset)
            if (text.next_code_character(end) != "("
                    or text.offset(call.lineno, call.col_offset) != start):
                return None
            found.append(_CallSite(call.lineno, start, end,
                                   text.offset(call.end_lineno, call.end_col_offset),
                                   rule, qualified))
            break
    return found


def _within(site: _CallSite, fstrings: Sequence[ast.JoinedStr], text: _Text) -> bool:
    """Whether the call is inside an f-string (where positions differ across versions)."""
    for fstring in fstrings:
        assert fstring.end_lineno is not None and fstring.end_col_offset is not None
        if (fstring.lineno <= site.line <= fstring.end_lineno and
                text.offset(fstring.lineno, fstring.col_offset) <= site.start
                < text.offset(fstring.end_lineno, fstring.end_col_offset)):
            return True
    return False


def _dotted(expression: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(expression, ast.Attribute):
        parts.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        return None
    return [expression.id, *reversed(parts)]


def _import_anchor(tree: ast.Module, text: _Text) -> tuple[int, bool] | Literal["empty"] | None:
    """Where the runtime import goes, as libcst's weave puts it: after the docstring and
    `from __future__` imports (True: `; import ...` is appended), else before a first simple
    statement (False: `import ...; ` is prepended), or alone in an empty file (a package's
    `__init__.py`). None: libcst decides."""
    body = tree.body
    if not text.source:
        return "empty"
    position = 1 if body and _is_docstring(body[0]) else 0
    while position < len(body) and _is_future_import(body[position]):
        position += 1
    if position > 0:
        anchor = body[position - 1]
        if _shares_its_lines(anchor, body[position:position + 1]) or (
                position > 1 and _shares_its_lines(body[position - 2], [anchor])):
            return None
        assert anchor.end_lineno is not None and anchor.end_col_offset is not None
        end = text.offset(anchor.end_lineno, anchor.end_col_offset)
        rest = _rest_of_line(text, end)
        if rest.strip() and not rest.lstrip().startswith("#"):  # `x = 1;` or `\` continuation
            return None
        return end, True
    if not body or isinstance(body[0], _COMPOUND):
        return None
    first = body[0]
    if first.col_offset != 0:
        return None
    return text.offset(first.lineno, 0), False


_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.Match,
    *([ast.TryStar] if sys.version_info >= (3, 11) else []))


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, (str, bytes)))


def _is_future_import(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.ImportFrom) and statement.module == "__future__" and \
        not statement.level


def _shares_its_lines(statement: ast.stmt, following: Sequence[ast.stmt]) -> bool:
    """Whether a following statement starts on the line `statement` ends on (`a; b`)."""
    return any(other.lineno == statement.end_lineno for other in following)


def _rest_of_line(text: _Text, offset: int) -> str:
    line = bisect_right(text.line_starts, offset)
    end = text.line_starts[line] if line < len(text.line_starts) else len(text.source)
    return text.source[offset:end]
