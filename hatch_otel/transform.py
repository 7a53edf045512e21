"""The libcst transformers that weave one module.

Three join points, each a small pass over the module:

- call site: a call whose callee resolves to a rule's target becomes
  `_hatch_otel.at("rule", callee)(args...)`, on the same line;
- function entry: a matched function gets `@_hatch_otel.fn("rule")` as its innermost decorator,
  written on a line that already exists (folded into its last decorator with `then`, or on the
  blank or comment line above the `def`; failing those, rebound right after it or wrapped by its
  class's decorator); only when there is none is a line added, and the site says so;
- bootstrap: `import <pkg>._otel as _hatch_otel` shares the line of the docstring, the last
  `from __future__` import or the first statement, so that no statement moves.

`# otel: ignore` on a statement, above or on a function or class, or in the file's header
keeps that code unwoven. Weaving is idempotent: existing trampolines are recognised and left.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider, QualifiedNameProvider

from .errors import SourceProblem
from .names import Aliases, unambiguous_aliases
from .rules import Rule
from .sites import (
    IGNORE_MARKER,
    RUNTIME_ALIAS,
    ModuleInput,
    ParseFailure,
    WeaveResult,
    WeaveSite,
    runtime_import_line,
)


def weave_module(source: str, unit: ModuleInput) -> WeaveResult:
    """Weave one module; raises ParseFailure when libcst cannot parse it."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise ParseFailure(
            SourceProblem(unit.path, exc.raw_line, exc.raw_column + 1, exc.message)
        ) from None
    if _header_ignores_file(module):
        return WeaveResult(source)
    targets = [r.target for r in unit.rules if r.join_point == "call"] + [
        r.decorator for r in unit.rules if r.decorator is not None]
    aliases = unambiguous_aliases(source, unit.module, targets) if targets else Aliases({})
    first_ignored = _header_ignores_first_statement(module)
    metadata = MetadataWrapper(module, unsafe_skip_copy=True)  # parsed here: ours to keep
    positions = metadata.resolve(PositionProvider)
    if aliases is not None:
        table = aliases

        def resolve(expression: cst.BaseExpression) -> set[str]:
            return table.resolve_dotted(_dotted(expression))
    else:  # a name means different things in different scopes: libcst's analysis decides
        qualified = metadata.resolve(QualifiedNameProvider)

        def resolve(expression: cst.BaseExpression) -> set[str]:
            names = qualified.get(expression, ())
            if callable(names):  # libcst computes qualified names lazily
                names = names()
            return {q.name for q in names}

    weaver = _Weaver(unit, first_ignored, positions, resolve)
    woven = module.visit(weaver)
    sites = list(weaver.sites)
    # rules whose trampolines an earlier weave left in this module count as matched
    earlier = tuple(r.id for r in unit.rules if f'"{r.id}"' in source) if (
        f" as {RUNTIME_ALIAS}" in source) else ()
    unchanged = WeaveResult(source, ignored=tuple(weaver.ignored), earlier=earlier)
    if not sites and not unit.bootstrap:
        return unchanged
    woven, added_line = _with_runtime_import(woven, unit.runtime)
    code = woven.code
    if code == source:  # already woven: weaving is idempotent
        return unchanged
    import_line = runtime_import_line(code, unit.runtime)
    if import_line is not None:
        sites.insert(0, WeaveSite(unit.path, import_line, "bootstrap", "bootstrap",
                                  unit.runtime, added_line))
    return WeaveResult(code, tuple(sites), tuple(weaver.ignored))


# -- `# otel: ignore` ----------------------------------------------------------------------------
def _is_ignore(comment: cst.Comment | None) -> bool:
    return comment is not None and IGNORE_MARKER in comment.value


def _header_ignores_file(module: cst.Module) -> bool:
    """A marker in the file's header followed by a blank line covers the whole file."""
    marked = False
    for line in module.header:
        if _is_ignore(line.comment):
            marked = True
        elif marked and line.comment is None:
            return True
    return marked and not module.body


def _header_ignores_first_statement(module: cst.Module) -> bool:
    """A marker right above the first statement (no blank line between) covers that one."""
    return any(_is_ignore(line.comment) for line in module.header) and not _header_ignores_file(
        module
    )


def _statement_ignored(node: cst.CSTNode) -> bool:
    leading = getattr(node, "leading_lines", ())
    if any(_is_ignore(line.comment) for line in leading):
        return True
    if isinstance(node, cst.SimpleStatementLine):
        return _is_ignore(node.trailing_whitespace.comment)
    body = getattr(node, "body", None)
    header = getattr(body, "header", None)
    if isinstance(header, cst.TrailingWhitespace) and _is_ignore(header.comment):
        return True
    decorators: Sequence[cst.Decorator] = getattr(node, "decorators", ())
    return any(
        _is_ignore(d.trailing_whitespace.comment)
        or any(_is_ignore(line.comment) for line in d.leading_lines)
        for d in decorators
    )


# -- the call-site and function-entry passes -----------------------------------------------------
def _runtime_call(function: str, *args: cst.BaseExpression) -> cst.Call:
    return cst.Call(
        func=cst.Attribute(cst.Name(RUNTIME_ALIAS), cst.Name(function)),
        args=[cst.Arg(a) for a in args],
    )


def _string(value: str) -> cst.SimpleString:
    return cst.SimpleString(repr(value).replace("'", '"') if '"' not in value else repr(value))


def _is_trampoline(expression: cst.BaseExpression) -> bool:
    if isinstance(expression, cst.Call):
        expression = expression.func
    return (
        isinstance(expression, cst.Attribute)
        and isinstance(expression.value, cst.Name)
        and expression.value.value == RUNTIME_ALIAS
    )


@dataclass
class _Scope:
    name: str
    is_function: bool
    members: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    """Methods to wrap from the class decorator: (name in the class dict, rule, site)."""
    woven: set[Any] = dataclasses.field(default_factory=set)
    """Methods an earlier weave already wraps from the class decorator."""


class _Weaver(cst.CSTTransformer):
    """The call-site and function-entry passes over one module."""


    def __init__(self, unit: ModuleInput, first_statement_ignored: bool,
                 positions: Mapping[cst.CSTNode, CodeRange],
                 resolve: Callable[[cst.BaseExpression], set[str]]) -> None:
        super().__init__()
        self.positions = positions
        self.resolve_names = resolve
        self.unit = unit
        self.call_rules = [r for r in unit.rules if r.join_point == "call"]
        self.function_rules = [r for r in unit.rules if r.join_point == "function"]
        self.first_statement_ignored = first_statement_ignored
        self.sites: list[WeaveSite] = []
        self.ignored: list[WeaveSite] = []
        self.scopes: list[_Scope] = []
        self.ignoring: list[bool] = []
        self.first_statement: cst.CSTNode | None = None
        self.rebinds: dict[int, tuple[cst.FunctionDef, str, int]] = {}
        self.already_woven: list[set[str]] = []
        """Per enclosing block: names an earlier weave rebound (`f = _hatch_otel.fn(..)(f)`)."""

    def _record(self, node: cst.CSTNode, join_point: str, rule: Rule, target: str,
                *, added_line: bool = False) -> bool:
        """Note the site; False when `# otel: ignore` covers it."""
        line = self.positions[node].start.line
        site = WeaveSite(self.unit.path, line, join_point, rule.id, target, added_line)
        if any(self.ignoring):
            self.ignored.append(site)
            return False
        self.sites.append(site)
        return True

    def visit_Module(self, node: cst.Module) -> None:
        if node.body and self.first_statement_ignored:
            self.first_statement = node.body[0]
        self.already_woven.append(_rebound_names(node.body))

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.already_woven.append(_rebound_names(node.body))

    # statements marked `# otel: ignore` (and everything inside them) are left alone
    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseStatement):
            self.ignoring.append(node is self.first_statement or _statement_ignored(node))
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        result = super().on_leave(original_node, updated_node)
        if isinstance(original_node, cst.BaseStatement):
            self.ignoring.pop()
        return result

    # qualified names of the project's own functions, as `__qualname__` spells them
    def _qualname(self, name: str) -> str:
        parts: list[str] = []
        for scope in self.scopes:
            parts.append(scope.name)
            if scope.is_function:
                parts.append("<locals>")
        return ".".join([*parts, name])

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.append(_Scope(node.name.value, is_function=False))
        for decorator in node.decorators:  # methods an earlier weave wrapped from here
            call = decorator.decorator
            if (_is_trampoline(call) and isinstance(call, cst.Call) and len(call.args) == 2
                    and isinstance(call.args[1].value, cst.Dict)):
                self.scopes[-1].woven = {
                    e.key.evaluated_value for e in call.args[1].value.elements
                    if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)}

    def leave_ClassDef(self, original_node: cst.ClassDef,
                       updated_node: cst.ClassDef) -> cst.ClassDef:
        members = self.scopes.pop().members
        if not members:
            return updated_node
        table = cst.Dict([cst.DictElement(_string(name), _string(rule_id))
                          for name, rule_id, _ in members])
        placed = _place_decorator(updated_node, lambda innermost: _runtime_call(
            "members", innermost or cst.Name("None"), table))
        if placed is not None:
            return placed
        # truly no room: each method gets a decorator line of its own, and the build says so
        rules = {name: (rule_id, site) for name, rule_id, site in members}
        body = []
        for statement in updated_node.body.body:
            name = _mangled(updated_node.name.value, statement.name.value) if isinstance(
                statement, cst.FunctionDef) else None
            if name in rules:
                rule_id, site = rules[name]
                decorator = cst.Decorator(decorator=_runtime_call("fn", _string(rule_id)))
                statement = statement.with_changes(decorators=[decorator])
                self.sites[site] = dataclasses.replace(self.sites[site], added_line=True)
            body.append(statement)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(_Scope(node.name.value, is_function=True))

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.scopes.pop()
        if self._woven_before(original_node):
            return updated_node
        qualname = self._qualname(original_node.name.value)
        rule = next((r for r in self.function_rules
                     if self._function_matches(r, qualname, original_node)), None)
        if rule is None:
            return updated_node
        target = f"{self.unit.module}:{qualname}"
        if not self._record(original_node, "function", rule, target):
            return updated_node
        placed = _place_trampoline(updated_node, rule.id)
        if placed is None:  # no line above: rebind after it, once the enclosing block is known
            self.rebinds[id(updated_node)] = (updated_node, rule.id, len(self.sites) - 1)
            return updated_node
        return placed

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        self.already_woven.pop()
        return updated_node.with_changes(body=self._rebind_in(updated_node.body))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        self.already_woven.pop()
        return updated_node.with_changes(body=self._rebind_in(updated_node.body))

    def _rebind_in(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """`name = _hatch_otel.fn(rule)(name)` right after a function that has no free line
        above it: on the blank or comment line after it, or sharing the next simple
        statement's line. Nothing can run between the two, so this equals decorating."""
        statements = list(body)
        index = 0
        while index < len(statements):
            pending = self.rebinds.pop(id(statements[index]), None)
            if pending is not None:
                function, rule_id, site = pending
                following = statements[index + 1] if index + 1 < len(statements) else None
                rebound = _rebind_after(function, rule_id, following)
                if rebound is None and self.scopes and not self.scopes[-1].is_function:
                    # a method: its class's decorator wraps it once the class exists
                    scope = self.scopes[-1]
                    scope.members.append((_mangled(scope.name, function.name.value), rule_id,
                                          site))
                elif rebound is None:  # truly no room: a decorator line is added, and said
                    decorator = cst.Decorator(decorator=_runtime_call("fn", _string(rule_id)))
                    statements[index] = function.with_changes(decorators=[decorator])
                    self.sites[site] = dataclasses.replace(self.sites[site], added_line=True)
                else:
                    statements[index + 1 : index + 2] = rebound
            index += 1
        return statements

    def qualified_names(self, expression: cst.BaseExpression) -> set[str]:
        """What a callee or decorator can stand for."""
        return self.resolve_names(expression)

    def _woven_before(self, node: cst.FunctionDef) -> bool:
        name = node.name.value
        enclosing = self.scopes[-1] if self.scopes else None
        return (any(_is_trampoline(d.decorator) for d in node.decorators)
                or name in self.already_woven[-1]
                or (enclosing is not None and not enclosing.is_function
                    and _mangled(enclosing.name, name) in enclosing.woven))

    def _function_matches(self, rule: Rule, qualname: str, node: cst.FunctionDef) -> bool:
        if any(_decorator_name(d) in ("overload", "typing.overload") for d in node.decorators):
            return False
        if rule.decorator is not None:
            return any(
                fnmatch.fnmatchcase(name, rule.decorator)
                for d in node.decorators
                for name in self.qualified_names(_decorator_callee(d))
            )
        module_glob, _, qual_glob = rule.target.partition(":")
        if not fnmatch.fnmatchcase(self.unit.module, module_glob):
            return False
        qual_glob = qual_glob or "*"
        if "<locals>" in qualname and "<locals>" not in qual_glob:
            return False
        return fnmatch.fnmatchcase(qualname, qual_glob)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not self.call_rules or _is_trampoline(original_node.func):
            return updated_node
        for name in sorted(self.qualified_names(original_node.func)):
            rule = next((r for r in self.call_rules if fnmatch.fnmatchcase(name, r.target)), None)
            if rule is not None:
                if not self._record(original_node, "call", rule, name):
                    return updated_node
                wrapped = _runtime_call("at", _string(rule.id), updated_node.func)
                return updated_node.with_changes(func=wrapped)
        return updated_node


def _rebound_names(body: Sequence[cst.BaseStatement]) -> set[str]:
    """Names rebound by an earlier weave in this block: `name = _hatch_otel.fn(...)(name)`."""
    return {
        small.targets[0].target.value
        for statement in body if isinstance(statement, cst.SimpleStatementLine)
        for small in statement.body
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name)
        and isinstance(small.value, cst.Call) and _is_trampoline(small.value.func)
    }


def _decorator_callee(decorator: cst.Decorator) -> cst.BaseExpression:
    expression = decorator.decorator
    return expression.func if isinstance(expression, cst.Call) else expression


def _dotted(expression: cst.BaseExpression) -> list[str] | None:
    """`flask.Flask` -> ["flask", "Flask"]; None for anything but a dotted name."""
    parts: list[str] = []
    while isinstance(expression, cst.Attribute):
        parts.append(expression.attr.value)
        expression = expression.value
    if not isinstance(expression, cst.Name):
        return None
    return [expression.value, *reversed(parts)]


def _decorator_name(decorator: cst.Decorator) -> str:
    return ".".join(_dotted(_decorator_callee(decorator)) or ())


Definition = TypeVar("Definition", cst.FunctionDef, cst.ClassDef)


def _place_trampoline(node: cst.FunctionDef, rule_id: str) -> cst.FunctionDef | None:
    """Make `fn(rule)` the innermost decorator on a line that already exists, if there is one."""
    return _place_decorator(node, lambda innermost: _runtime_call(
        "fn", _string(rule_id)) if innermost is None else _runtime_call(
        "then", innermost, _string(rule_id)))


def _place_decorator(node: Definition, make: Callable[[cst.BaseExpression | None], cst.Call]
                     ) -> Definition | None:
    """Fold a trampoline into the innermost decorator, or write it on the free line above;
    `make(innermost_or_None)` builds the decorator expression. None when there is no room."""
    if node.decorators:
        innermost = node.decorators[-1]
        composed = innermost.with_changes(decorator=make(innermost.decorator))
        return node.with_changes(decorators=[*node.decorators[:-1], composed])
    if not node.leading_lines:
        return None
    decorator = cst.Decorator(decorator=make(None),
                              trailing_whitespace=_keeping_comment(node.leading_lines[-1]))
    return node.with_changes(leading_lines=node.leading_lines[:-1], decorators=[decorator])


def _mangled(class_name: str, name: str) -> str:
    """A method's key in its class's __dict__ (private names are mangled)."""
    if name.startswith("__") and not name.endswith("__") and class_name.strip("_"):
        return f"_{class_name.lstrip('_')}{name}"
    return name


def _keeping_comment(free_line: cst.EmptyLine) -> cst.TrailingWhitespace:
    """Code written on a blank or comment line keeps the comment at its end."""
    return cst.TrailingWhitespace(
        whitespace=cst.SimpleWhitespace("  " if free_line.comment else ""),
        comment=free_line.comment,
    )


def _rebind_after(function: cst.FunctionDef, rule_id: str,
                  following: cst.BaseStatement | None) -> list[cst.BaseStatement] | None:
    """The statements that replace `following` so that it also rebinds `function`."""
    if following is None:
        return None
    name = function.name.value
    rebind = cst.Assign(
        targets=[cst.AssignTarget(cst.Name(name))],
        value=cst.Call(func=_runtime_call("fn", _string(rule_id)), args=[cst.Arg(cst.Name(name))]),
    )
    leading: Sequence[cst.EmptyLine] = getattr(following, "leading_lines", ())
    if leading:
        free_line, *rest = leading
        line = cst.SimpleStatementLine(body=[rebind],
                                       trailing_whitespace=_keeping_comment(free_line))
        return [line, following.with_changes(leading_lines=rest)]
    if isinstance(following, cst.SimpleStatementLine):
        return [following.with_changes(body=[rebind, *following.body])]
    return None


# -- the bootstrap import ------------------------------------------------------------------------
def _runtime_import(runtime: str) -> cst.Import:
    dotted: cst.Attribute | cst.Name = cst.Name(runtime.split(".")[0])
    for part in runtime.split(".")[1:]:
        dotted = cst.Attribute(dotted, cst.Name(part))
    return cst.Import(
        names=[cst.ImportAlias(name=dotted, asname=cst.AsName(cst.Name(RUNTIME_ALIAS)))]
    )


def _imports_runtime(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Import)
        and any(alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                and alias.asname.name.value == RUNTIME_ALIAS for alias in small.names)
        for small in statement.body
    )


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_future_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.ImportFrom)
        and isinstance(small.module, cst.Name)
        and small.module.value == "__future__"
        for small in statement.body
    )


def _is_free_header_line(line: cst.EmptyLine, index: int) -> bool:
    """Blank or comment lines take code, except a shebang, encoding or otel marker comment."""
    if line.comment is None:
        return True
    text = line.comment.value
    if index < 2 and (text.startswith("#!") or "coding" in text):
        return False
    return "otel:" not in text


def _with_runtime_import(module: cst.Module, runtime: str) -> tuple[cst.Module, bool]:
    """Add the runtime import on an existing line; True when a line had to be added."""
    body = list(module.body)
    if any(_imports_runtime(s) for s in body):
        return module, False
    statement = _runtime_import(runtime)
    position = 0
    if body and _is_docstring(body[0]):
        position = 1
    while position < len(body) and _is_future_import(body[position]):
        position += 1
    if position > 0:  # `"""Doc."""; import ...` or `from __future__ import x; import ...`
        anchor = body[position - 1]
        assert isinstance(anchor, cst.SimpleStatementLine)
        body[position - 1] = anchor.with_changes(body=[*anchor.body, statement])
        return module.with_changes(body=body), False
    if body and isinstance(body[0], cst.SimpleStatementLine):  # `import ...; first_statement`
        body[0] = body[0].with_changes(body=[statement, *body[0].body])
        return module.with_changes(body=body), False
    header = list(module.header)
    leading = list(body[0].leading_lines) if body else []
    marker = next((i for i, line in enumerate(header) if _is_ignore(line.comment)), None)
    if body and marker is not None:  # keep the marker above the statement it covers
        header, leading = header[:marker], header[marker:] + leading
        body[0] = body[0].with_changes(leading_lines=leading)
    if leading and _is_free_header_line(leading[-1], len(header) + len(leading) - 1):
        free_line = leading.pop()
        body[0] = body[0].with_changes(leading_lines=leading)
        return _import_on(module, header, body, statement, free_line), False
    if header and _is_free_header_line(header[-1], len(header) - 1):
        free_line = header.pop()
        return _import_on(module, header, body, statement, free_line), False
    moves_lines = bool(body)  # an empty module (`__init__.py`) has no line to move
    body.insert(0, cst.SimpleStatementLine(body=[statement]))
    return module.with_changes(header=header, body=body, has_trailing_newline=True), moves_lines


def _import_on(module: cst.Module, header: list[cst.EmptyLine],
               body: Sequence[cst.BaseStatement],
               statement: cst.Import, free_line: cst.EmptyLine) -> cst.Module:
    """Put the import on a blank or comment line, keeping the comment."""
    line = cst.SimpleStatementLine(body=[statement],
                                   trailing_whitespace=_keeping_comment(free_line))
    return module.with_changes(header=header, body=[line, *body])

