"""The `otel` hook table: read it, check all of it, and report every problem at once.

Every message names the TOML key it is about, as the user wrote it:
`tool.hatch.build.targets.wheel.hooks.otel.trace[2].kind: must be one of internal, ...`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .rules import SPAN_KINDS, Rule, SpanSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

WHEEL_TABLE = "tool.hatch.build.targets.wheel.hooks.otel"
GLOBAL_TABLE = "tool.hatch.build.hooks.otel"
HATCH_KEYS = frozenset(
    {"enable-by-default", "require-runtime-dependencies", "require-runtime-features",
     "dependencies"}
)
"""Keys hatchling itself reads from every hook table."""


@dataclass(frozen=True)
class Config:
    strict: bool = True
    exclude: tuple[str, ...] = ()
    disable: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()
    """The project's own `trace` and `hook` rules."""
    table: str = WHEEL_TABLE


def table_path(root: Path) -> str:
    """Where the user wrote the table, so messages quote the key they can find."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return WHEEL_TABLE
    node: Any = data
    for part in WHEEL_TABLE.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return WHEEL_TABLE if node is not None else GLOBAL_TABLE


def load(raw: Mapping[str, Any], root: Path, table: str = WHEEL_TABLE) -> Config:
    """Validate the table (and any rules files it names) into a Config, or raise ConfigError."""
    reader = _Reader(table)
    known = {"strict", "exclude", "disable", "trace", "hook", "rules"} | HATCH_KEYS
    for key in raw:
        if key not in known:
            reader.problem(key, "unknown option; the otel hook understands "
                           + ", ".join(sorted(known - HATCH_KEYS)))
    strict = reader.boolean(raw, "strict", True)
    exclude = reader.strings(raw, "exclude")
    disable = frozenset(name.lower() for name in reader.strings(raw, "disable"))
    traces = [(f"{table}.trace[{i}]", t)
              for i, t in enumerate(reader.tables(raw, "trace", "trace"))]
    hooks = [(f"{table}.hook[{i}]", h) for i, h in enumerate(reader.tables(raw, "hook", "hook"))]
    for path in reader.strings(raw, "rules"):
        extra = reader.rules_file(root, path)
        traces += [(f"{path}: trace[{i}]", t)
                   for i, t in enumerate(reader.tables(extra, "trace", f"{path}: trace"))]
        hooks += [(f"{path}: hook[{i}]", h)
                  for i, h in enumerate(reader.tables(extra, "hook", f"{path}: hook"))]
    rules = [reader.trace_rule(where, t, i) for i, (where, t) in enumerate(traces)]
    rules += [reader.hook_rule(where, h, i) for i, (where, h) in enumerate(hooks)]
    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(strict, tuple(exclude), disable, tuple(r for r in rules if r), table)


class _Reader:
    """Type checks that collect problems instead of stopping at the first."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        where = key if (":" in key or key.startswith("tool.")) else f"{self.table}.{key}"
        self.problems.append(f"{where}: {message}")

    def boolean(self, table: Mapping[str, Any], key: str, default: bool,
                where: str | None = None) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(_key(where, key), f"must be true or false, not {value!r}")
            return default
        return value

    def strings(self, table: Mapping[str, Any], key: str,
                where: str | None = None) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(_key(where, key), f"must be a list of strings, not {value!r}")
            return []
        return value

    def string(self, table: Mapping[str, Any], key: str, where: str,
               required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(_key(where, key), "is required")
            return None
        if not isinstance(value, str) or not value:
            self.problem(_key(where, key), f"must be a non-empty string, not {value!r}")
            return None
        return value

    def tables(self, table: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(where, f"must be an array of tables ([[{key}]])")
            return []
        return value

    def rules_file(self, root: Path, path: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = tomllib.loads((root / path).read_text("utf-8"))
            return data
        except OSError as exc:
            self.problem("rules", f"cannot read {path!r}: {exc.strerror}")
        except tomllib.TOMLDecodeError as exc:
            self.problem("rules", f"{path} is not valid TOML: {exc}")
        return {}

    def unknown_keys(self, table: Mapping[str, Any], where: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.problem(_key(where, key), "unknown key; expected one of "
                             + ", ".join(sorted(known)))

    def reference(self, table: Mapping[str, Any], key: str, where: str,
                  required: bool = False) -> str | None:
        value = self.string(table, key, where, required)
        if value is not None and (":" not in value or value.startswith(":")
                                  or value.endswith(":")):
            self.problem(_key(where, key), f"{value!r} must be 'module:qualified.name'")
            return None
        return value

    def trace_rule(self, where: str, table: Mapping[str, Any], index: int) -> Rule | None:
        self.unknown_keys(table, where, {"function", "span-name", "kind", "attributes",
                                         "record-exception", "record-return", "optional"})
        function = self.string(table, "function", where, required=True)
        kind = table.get("kind", "internal")
        if kind not in SPAN_KINDS:
            self.problem(_key(where, "kind"), f"must be one of {', '.join(SPAN_KINDS)}, "
                         f"not {kind!r}")
        attributes = table.get("attributes", {})
        if not isinstance(attributes, dict) or not all(
            isinstance(v, str) for v in attributes.values()
        ):
            self.problem(_key(where, "attributes"), "must be a table of attribute name = "
                         "parameter (e.g. { \"order.id\" = \"order.id\" })")
            attributes = {}
        span = SpanSpec(
            name=self.string(table, "span-name", where) or "{qualname}",
            kind=kind if kind in SPAN_KINDS else "internal",
            attributes=tuple(sorted(attributes.items())),
            record_exception=self.boolean(table, "record-exception", True, where),
            record_return=self.boolean(table, "record-return", False, where),
        )
        if function is None:
            return None
        return Rule(id=f"trace.{index}", library="", join_point="function",
                    target=_function_target(function), span=span,
                    optional=self.boolean(table, "optional", False, where), project_rule=True,
                    origin=where)

    def hook_rule(self, where: str, table: Mapping[str, Any], index: int) -> Rule | None:
        self.unknown_keys(table, where, {"target", "before", "after", "optional"})
        target = self.reference(table, "target", where, required=True)
        before = self.reference(table, "before", where)
        after = self.reference(table, "after", where)
        if target is not None and before is None and after is None:
            self.problem(where, "needs `before`, `after` or both")
        if target is None:
            return None
        return Rule(id=f"hook.{index}", library="", join_point="function", target=target,
                    before=before, after=after,
                    optional=self.boolean(table, "optional", False, where), project_rule=True,
                    origin=where)


def _key(where: str | None, key: str) -> str:
    return key if where is None else f"{where}.{key}"


def _function_target(function: str) -> str:
    """`"*"` means every function of the project: any module, any qualified name."""
    return function if ":" in function else f"{function}:*" if function != "*" else "*:*"
