"""What a weave produces and needs: the data the weave stage, its libcst transformers
(`transform.py`) and everything downstream (bundle, display, CLI) share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import SourceProblem
from .rules import Rule

RUNTIME_ALIAS = "_hatch_otel"
"""The name woven modules import the bundled runtime as (one underscore: never mangled)."""
IGNORE_MARKER = "otel: ignore"
"""The comment that keeps a statement, function, class or file unwoven."""


@dataclass(frozen=True)
class WeaveSite:
    """One place the weaver changed, as listed in the plan and the wheel's manifest."""

    path: str
    line: int
    join_point: str
    rule_id: str
    target: str
    added_line: bool = False


@dataclass(frozen=True)
class WeaveResult:
    """The woven source of one module (the original text when nothing was woven)."""

    source: str
    sites: tuple[WeaveSite, ...] = ()
    ignored: tuple[WeaveSite, ...] = ()
    earlier: tuple[str, ...] = ()
    """Rules whose trampolines an earlier weave already left in the source."""

    @property
    def changed(self) -> bool:
        return bool(self.sites)


@dataclass(frozen=True)
class ModuleInput:
    """What the weaver needs to know about one module besides its text."""

    path: str
    module: str
    runtime: str
    rules: Sequence[Rule] = ()
    bootstrap: bool = False


class ParseFailure(Exception):
    def __init__(self, problem: SourceProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def runtime_import_line(code: str, runtime: str) -> int | None:
    """The line of a woven module's runtime import."""
    needle = f"import {runtime} as {RUNTIME_ALIAS}"
    return next((n for n, text in enumerate(code.splitlines(), 1) if needle in text), None)
