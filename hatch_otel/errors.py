"""The errors hatch-otel reports to users: one message each, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class HatchOtelError(Exception):
    """Problems the user can fix, one line each naming the file, line or TOML key and the remedy."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(problems))

    def lines(self) -> list[str]:
        """How every front end prints it: one `hatch-otel: ` line per problem."""
        return [f"hatch-otel: {problem}" for problem in self.problems]


class ConfigError(HatchOtelError):
    """The `otel` table (or a rules file, or a dependency list) is invalid."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(*problems)


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


def first_line(error: Exception) -> str:
    """packaging's messages add a caret diagram on later lines; messages here are one line."""
    return str(error).partition("\n")[0]
