"""Which qualified names a callee can stand for, without libcst's scope analysis when the
module makes that unambiguous.

libcst's QualifiedNameProvider is exact but costs ten times the parse. Most modules bind an
imported name only by importing it: then `Flask` is `flask.Flask` wherever it appears, and an
alias table read with `ast` answers in a fraction of the time. A module that also binds such a
name some other way (an assignment, a parameter, a `def`, a star import...) is left to libcst.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence


class Aliases:
    """Module-wide import aliases: local name -> dotted name it was imported as."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def resolve_dotted(self, parts: Sequence[str] | None) -> set[str]:
        """["fetch"] -> {"urllib.request.urlopen"}; ["flask", "Flask"] -> {"flask.Flask"}."""
        if not parts or parts[0] not in self.table:
            return set()
        return {".".join([self.table[parts[0]], *parts[1:]])}


def unambiguous_aliases(source: str, module: str, targets: Iterable[str]) -> Aliases | None:
    """`aliases_in` the parsed source (None also when it does not parse: libcst says why)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return aliases_in(tree, module, targets)


def aliases_in(tree: ast.Module, module: str, targets: Iterable[str]) -> Aliases | None:
    """The alias table when every name that may lead to one of `targets` is bound only by
    imports (and always to the same thing); None when libcst's scopes must decide."""
    roots = {target.split(".")[0] for target in targets}
    if "builtins" in roots or any(any(c in root for c in "*?[") for root in roots):
        return None
    table: dict[str, str] = {}
    other_bindings: set[str] = set()
    for node in ast.walk(tree):
        for name, dotted in _imported(node, module):
            if name == "*" or table.setdefault(name, dotted) != dotted:
                return None
        other_bindings.update(_bound(node))
    relevant = {name for name, dotted in table.items() if dotted.split(".")[0] in roots}
    if relevant & other_bindings:
        return None
    return Aliases(table)


def _imported(node: ast.AST, module: str) -> list[tuple[str, str]]:
    if isinstance(node, ast.Import):
        return [(a.asname, a.name) if a.asname else (a.name.split(".")[0], a.name.split(".")[0])
                for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(node, module)
        return [(a.asname or a.name, "*" if a.name == "*" else f"{base}.{a.name}")
                for a in node.names]
    return []


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level] if node.level else []
    return ".".join([*package, *([node.module] if node.module else [])])


def _bound(node: ast.AST) -> Iterable[str]:
    """Names `node` binds other than by importing."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield node.id
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names
    elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
        yield node.name
    elif isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest
