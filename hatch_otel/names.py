"""Which qualified names a callee can stand for, without libcst's scope analysis when the
module makes that unambiguous.

libcst's QualifiedNameProvider is exact but costs ten times the parse. Most modules bind an
imported name only by importing it: then `Flask` is `flask.Flask` wherever it appears, and an
alias table read with `ast` answers in a fraction of the time. A module that also binds such a
name some other way (an assignment, a parameter, a `def`, a star import...) is left to libcst.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from typing import Any


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
    """`ModuleNames.aliases` of the parsed source (None also when it does not parse: libcst
    says why)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return ModuleNames(tree, module).aliases(targets)


class ModuleNames:
    """How a module binds names, and the calls of dotted names it makes, from one walk of
    its tree (the walk is most of the cost, so the splicer shares it)."""

    def __init__(self, tree: ast.Module, module: str) -> None:
        self.imports: dict[str, str] = {}
        self.conflicting_imports = False
        """A name imported as two different things, or a star import."""
        self.other_bindings: set[str] = set()
        self.calls: list[ast.Call] = []
        """Calls whose callee is a name or a dotted name."""
        self.fstrings: list[ast.JoinedStr] = []
        for node in _nodes(tree):
            kind = type(node)
            if kind is ast.Call:
                func = node.func  # type: ignore[attr-defined]
                if type(func) in (ast.Name, ast.Attribute):
                    self.calls.append(node)  # type: ignore[arg-type]
            elif kind is ast.JoinedStr:
                self.fstrings.append(node)  # type: ignore[arg-type]
            elif kind is ast.Import or kind is ast.ImportFrom:
                for name, dotted in _imported(node, module):
                    if name == "*" or self.imports.setdefault(name, dotted) != dotted:
                        self.conflicting_imports = True
            elif kind is ast.Name:
                if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                    self.other_bindings.add(node.id)  # type: ignore[attr-defined]
            elif kind in _BINDERS:
                self.other_bindings.update(_bound(node))

    def aliases(self, targets: Iterable[str]) -> Aliases | None:
        """The alias table when every name that may lead to one of `targets` is bound only by
        imports (and always to the same thing); None when libcst's scopes must decide."""
        roots = {target.split(".")[0] for target in targets}
        if ("builtins" in roots or any(any(c in root for c in "*?[") for root in roots)
                or self.conflicting_imports):
            return None
        relevant = {name for name, dotted in self.imports.items()
                    if dotted.split(".")[0] in roots}
        if relevant & self.other_bindings:
            return None
        return Aliases(self.imports)


_NOT_NODES = frozenset({"ctx", "id", "attr", "arg", "asname", "module", "level", "kind",
                        "conversion", "is_async", "type_comment", "names"})
"""Fields that hold no nodes (and `names`, which does only in imports, read directly)."""
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree but contexts, in no particular order: `ast.walk`, a third
    faster, as it skips the fields that hold names or numbers."""
    stack: list[Any] = [tree]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        if not isinstance(node, ast.AST):
            continue  # a None or a name from a list field (Dict keys, MatchClass attributes)
        yield node
        kind = type(node)
        fields = _CHILD_FIELDS.get(kind)
        if fields is None:
            fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f not in _NOT_NODES)
        for field in fields:
            value = getattr(node, field, None)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)


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


_BINDERS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.arg, ast.Global,
                      ast.Nonlocal, ast.ExceptHandler, ast.MatchAs, ast.MatchStar,
                      ast.MatchMapping})


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
