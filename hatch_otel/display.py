"""The plan as people read it: the build's summary, its verbose details and `hatch-otel plan`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from . import __version__
from .pipeline import Outcome
from .weave import WeaveSite

_STATUS_COLORS = {"applied": "32", "skipped": "33"}


def summary(outcome: Outcome) -> list[str]:
    """The few lines every build prints: what was woven, and every rule that was skipped."""
    plan = outcome.plan
    sites = outcome.sites
    per_rule = Counter(site.rule_id for site in sites)
    lines = [
        f"hatch-otel {__version__}: wove {len(outcome.woven)} file(s), {len(sites)} site(s); "
        f"runtime in {plan.runtime_package}"
    ]
    for decision in plan.decisions:
        if decision.selected:
            count = sum(per_rule[r] for r in decision.rules)
            lines.append(f"  + {decision.library} {decision.version}: {count} site(s); "
                         f"{decision.reason}")
    for decision in plan.decisions:
        if not decision.selected and not decision.unused:
            lines.append(f"  - {decision.library}: skipped, {decision.reason}")
    unused = [d.library for d in plan.decisions if d.unused]
    if unused:
        lines.append(f"  - skipped, not used by the project: {', '.join(unused)}")
    return lines + _warnings(outcome)


def _warnings(outcome: Outcome) -> list[str]:
    """What a reader of the build log must not miss: moved lines and files shipped unwoven."""
    lines = [f"  ! {site.path}:{site.line}: a line was added for {site.target} "
             "(no free line above it); later lines of this file move down by one"
             for site in outcome.sites if site.added_line]
    return lines + [f"  ! {warning}" for warning in outcome.warnings]


def details(outcome: Outcome) -> list[str]:
    """Every weave site, and every site `# otel: ignore` kept unwoven."""
    lines = [f"  {s.path}:{s.line}  {s.join_point:<9} {s.rule_id:<24} {s.target}"
             for s in outcome.sites]
    lines += [f"  {s.path}:{s.line}  ignored   {s.rule_id:<24} {s.target} (# otel: ignore)"
              for s in outcome.ignored]
    return lines


def plan(outcome: Outcome, color: bool = False) -> list[str]:
    """`hatch-otel plan`: every decision with its reason, then every site, as aligned tables."""
    project, runtime = outcome.plan.project, outcome.plan.runtime_package
    lines = [
        f"hatch-otel {__version__}: {project} would weave {len(outcome.woven)} file(s), "
        f"{len(outcome.sites)} site(s); runtime in {runtime}",
        "",
        *table(
            ("library", "version", "rules", "status", "reason"),
            [(d.library, d.version, str(len(d.rules)), "applied" if d.selected else "skipped",
              d.reason) for d in outcome.plan.decisions],
            color,
        ),
        "",
        *(_sites_table(outcome.sites, color) if outcome.sites else ["no weave sites"]),
    ]
    if outcome.ignored:
        lines += ["", "kept unwoven by `# otel: ignore`:", *_sites_table(outcome.ignored, color)]
    warnings = _warnings(outcome)
    if warnings:
        lines += ["", "warnings:", *warnings]
    return lines


def _sites_table(sites: Iterable[WeaveSite], color: bool) -> list[str]:
    rows = [(f"{s.path}:{s.line}", s.join_point, s.rule_id, s.target) for s in sites]
    return table(("site", "join point", "rule", "target"), rows, color)


def table(header: Sequence[str], rows: Iterable[Sequence[str]], color: bool = False) -> list[str]:
    """Columns padded to their widest cell (the last one never, so lines end without blanks).

    Colour goes on after the padding: escape codes must not count as width.
    """
    grid = [list(header), *map(list, rows)]
    widths = [max(len(row[i]) for row in grid) for i in range(len(header) - 1)] + [0]

    def cell(number: int, column: int, text: str) -> str:
        code = "1" if number == 0 else (
            _STATUS_COLORS.get(text, "") if header[column] == "status" else "")
        padding = " " * max(widths[column] - len(text), 0)
        return (f"\033[{code}m{text}\033[0m" if color and code else text) + padding

    return ["  ".join(cell(number, column, text) for column, text in enumerate(row))
            for number, row in enumerate(grid)]
