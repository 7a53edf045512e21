"""The plan as people read it: the build's summary, its verbose details and `hatch-otel plan`."""

from __future__ import annotations

from collections import Counter

from . import __version__
from .pipeline import Outcome


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
        if not decision.selected:
            lines.append(f"  - {decision.library}: skipped, {decision.reason}")
    added = [s for s in sites if s.added_line]
    for site in added:
        lines.append(f"  ! {site.path}:{site.line}: a line was added for {site.target} "
                     "(no free line above it); later lines of this file move down by one")
    lines += [f"  ! {warning}" for warning in outcome.warnings]
    return lines


def details(outcome: Outcome) -> list[str]:
    """Every weave site, and every site `# otel: ignore` kept unwoven."""
    lines = [f"  {s.path}:{s.line}  {s.join_point:<9} {s.rule_id:<24} {s.target}"
             for s in outcome.sites]
    lines += [f"  {s.path}:{s.line}  ignored   {s.rule_id:<24} {s.target} (# otel: ignore)"
              for s in outcome.ignored]
    return lines
