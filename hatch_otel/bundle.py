"""Phase 4: what the wheel gets besides the woven files.

`<package>/_otel/` holds the runtime (copied from hatch_otel/runtime), the hook modules of the
selected libraries (copied from hook_library), a generated `__init__.py` carrying the plan's
rule table, and `manifest.json` listing every weave site. The installed app needs neither
hatch-otel nor libcst.
"""

from __future__ import annotations

import json
import pprint
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .pipeline import Outcome
    from .rules import Rule

RUNTIME_DEPENDENCIES = (
    "opentelemetry-api>=1.27",
    "opentelemetry-sdk>=1.27",
    "opentelemetry-exporter-otlp-proto-http>=1.27",
)
RUNTIME_SOURCE = Path(__file__).parent / "runtime"


def write_bundle(outcome: Outcome, directory: Path) -> tuple[str, ...]:
    """Write every file the wheel needs into `directory` (outside the project root), each at
    its path in the wheel; returns those paths."""
    paths: list[str] = []

    def put(distribution_path: str, content: bytes) -> None:
        target = directory / distribution_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        paths.append(distribution_path)

    for woven in outcome.woven:
        put(woven.module.file.distribution_path, woven.woven)
    runtime_dir = outcome.plan.runtime_package.replace(".", "/")
    for source in sorted(RUNTIME_SOURCE.glob("*.py")):
        if source.name != "__init__.py":
            put(f"{runtime_dir}/{source.name}", source.read_bytes())
    put(f"{runtime_dir}/__init__.py", render_init(outcome).encode())
    put(f"{runtime_dir}/hooks/__init__.py", b'"""Hooks bundled from hatch-otel\'s library."""\n')
    for library in outcome.plan.libraries:
        if library.hooks_file is not None:
            put(f"{runtime_dir}/hooks/{library.folder.name}.py", library.hooks_file.read_bytes())
    put(f"{runtime_dir}/manifest.json", render_manifest(outcome).encode())
    return tuple(paths)


def rule_table(rules: tuple[Rule, ...]) -> dict[str, dict[str, Any]]:
    """The plan as plain data, for the generated module the woven code imports."""
    table: dict[str, dict[str, Any]] = {}
    for rule in rules:
        span = None
        if rule.span is not None:
            span = {"name": rule.span.name, "kind": rule.span.kind,
                    "attributes": dict(rule.span.attributes),
                    "record_exception": rule.span.record_exception,
                    "record_return": rule.span.record_return}
        table[rule.id] = {"library": rule.library, "before": rule.before, "after": rule.after,
                          "span": span, "project_rule": rule.project_rule,
                          "module": rule.target if rule.join_point == "import" else None}
    return table


def render_init(outcome: Outcome) -> str:
    rules = pprint.pformat(rule_table(outcome.plan.rules), width=96, sort_dicts=True)
    return f'''"""OpenTelemetry for {outcome.plan.project}, woven in by hatch-otel {__version__}.

Generated at build time: do not edit. Importing this package configures OpenTelemetry from the
OTEL_* environment variables once per process; see manifest.json for every woven site.
"""

from .bootstrap import start as _start
from .trampolines import at, fn, members, then

__all__ = ["at", "fn", "members", "then"]

PROJECT = {outcome.plan.project!r}
HATCH_OTEL_VERSION = {__version__!r}
RULES = {rules}

_start(__name__, PROJECT, HATCH_OTEL_VERSION, RULES)
'''


def render_manifest(outcome: Outcome) -> str:
    manifest = {
        "tool": "hatch-otel",
        "version": __version__,
        "project": outcome.plan.project,
        "runtime_package": outcome.plan.runtime_package,
        "plan": [
            {"library": d.library, "version": d.version, "selected": d.selected,
             "reason": d.reason, "rules": list(d.rules)}
            for d in outcome.plan.decisions
        ],
        "sites": [
            {"file": s.path, "line": s.line, "join_point": s.join_point, "rule": s.rule_id,
             "target": s.target, "added_line": s.added_line}
            for s in outcome.sites
        ],
        "ignored": [{"file": s.path, "line": s.line, "rule": s.rule_id, "target": s.target}
                    for s in outcome.ignored],
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
