"""The errors hatch-otel reports to users: one message each, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class HatchOtelError(Exception):
    """A problem the user can fix; its text names the file, line or TOML key and the remedy."""


class ConfigError(HatchOtelError):
    """The `otel` table (or a rules file) is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class SourceProblem:
    """A project file that cannot be parsed; reported as `path:line:column: reason`."""

    path: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.reason}"


UNPARSABLE_REMEDY = (
    "files that do not parse cannot be woven: fix them, or set `strict = false` in the otel "
    "hook table to ship them unwoven"
)
