"""Rules are data: what to instrument, where, for which versions, and with which hooks.

The hook library keeps one folder per library (`hook_library/<name>/rules.toml` + `hooks.py`);
the project adds its own `trace` and `hook` rules in its `otel` table. Both become the same
`Rule` objects, so planning and weaving treat them alike.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

JoinPoint = Literal["call", "function", "import"]
JOIN_POINTS: tuple[JoinPoint, ...] = ("call", "function", "import")
SPAN_KINDS = ("internal", "server", "client", "producer", "consumer")


@dataclass(frozen=True)
class SpanSpec:
    """The span a `trace` rule opens around each call."""

    name: str = "{qualname}"
    kind: str = "internal"
    attributes: tuple[tuple[str, str], ...] = ()
    record_exception: bool = True
    record_return: bool = False


@dataclass(frozen=True)
class Rule:
    """One join point and what runs there.

    `target` is, for a call site, the callee's qualified name (`flask.Flask`, globs allowed);
    for a function entry, `module:qualname` globs of the project's own functions
    (`shop.api:Client.*`); for an import, the library module whose first import runs the
    `after` hook at run time (nothing is woven). A function rule may select by `decorator`.
    Hooks are `module:function` references; a leading `.` means the bundled hook modules.
    """

    id: str
    library: str
    join_point: JoinPoint
    target: str
    decorator: str | None = None
    before: str | None = None
    after: str | None = None
    span: SpanSpec | None = None
    optional: bool = False
    project_rule: bool = False
    origin: str = ""
    """Where the rule was written (`hook_library/flask/rules.toml` or a TOML path)."""


@dataclass(frozen=True)
class Library:
    """One folder of the hook library."""

    name: str
    distribution: str | None
    modules: tuple[str, ...]
    versions: SpecifierSet
    description: str
    folder: Path
    rules: tuple[Rule, ...]
    python: SpecifierSet = field(default_factory=SpecifierSet)
    documentation: dict[str, Any] = field(default_factory=dict)

    @property
    def hooks_file(self) -> Path | None:
        path = self.folder / "hooks.py"
        return path if path.is_file() else None

    @property
    def is_stdlib(self) -> bool:
        return self.distribution is None


def library_root() -> Path:
    """The hook library: inside the installed package, or beside it in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "hook_library", package.parent / "hook_library"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("hatch-otel's hook_library is missing from this installation")


def load_library(root: Path | None = None) -> tuple[Library, ...]:
    root = root or library_root()
    return tuple(_load_folder(folder) for folder in sorted(root.iterdir())
                 if (folder / "rules.toml").is_file())


def _load_folder(folder: Path) -> Library:
    source = f"hook_library/{folder.name}/rules.toml"
    try:
        data = tomllib.loads((folder / "rules.toml").read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: {exc}"]) from None
    problems: list[str] = []
    name = _text(data, "name", source, problems) or folder.name
    hooks_module = f".hooks.{folder.name}"
    rules = []
    for index, raw in enumerate(data.get("rules", [])):
        where = f"{source}: rules[{index}]"
        join_point = raw.get("join-point")
        if join_point not in JOIN_POINTS:
            problems.append(f"{where}.join-point: must be one of {', '.join(JOIN_POINTS)}")
            continue
        rules.append(Rule(
            id=_text(raw, "id", where, problems) or f"{name}.{index}",
            library=name,
            join_point=join_point,
            target=raw.get("target", "*"),
            decorator=raw.get("decorator"),
            before=f"{hooks_module}:{raw['before']}" if "before" in raw else None,
            after=f"{hooks_module}:{raw['after']}" if "after" in raw else None,
            origin=where,
        ))
    library = Library(
        name=name,
        distribution=data.get("distribution"),
        modules=tuple(data.get("modules", [name])),
        versions=_specifier(data.get("versions", ""), f"{source}: versions", problems),
        python=_specifier(data.get("python", ""), f"{source}: python", problems),
        description=data.get("description", ""),
        folder=folder,
        rules=tuple(rules),
        documentation=data.get("docs", {}),
    )
    if problems:
        raise ConfigError(problems)
    return library


def _text(table: dict[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        problems.append(f"{where}.{key}: must be a non-empty string")
        return None
    return value


def _specifier(text: str, where: str, problems: list[str]) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        problems.append(f"{where}: {text!r} is not a PEP 440 version range (e.g. '>=2.2,<4')")
        return SpecifierSet()
