"""The build, top-down: analyse -> plan -> weave. (The hook then bundles the outcome.)

Kept apart from the hatchling hook so that `hatch-otel plan` and `hatch-otel diff` run exactly
what a build runs.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .analyse import Analysis, ProjectFile, SourceModule, analyse
from .config import Config
from .errors import ConfigError, SourceError
from .plan import Plan, make_plan
from .rules import Library, load_library
from .weave import ModuleInput, ParseFailure, WeaveResult, WeaveSite, weave_source


@dataclass(frozen=True)
class Project:
    """What the build backend knows of the project being built."""

    root: Path
    name: str
    files: tuple[ProjectFile, ...]
    dependencies: tuple[str, ...] = ()
    optional_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    scripts: tuple[str, ...] = ()
    """Console-script targets, `module:function`."""


@dataclass(frozen=True)
class WovenModule:
    module: SourceModule
    original: bytes
    woven: bytes
    result: WeaveResult


@dataclass(frozen=True)
class Outcome:
    analysis: Analysis
    plan: Plan
    woven: tuple[WovenModule, ...]
    ignored: tuple[WeaveSite, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def sites(self) -> tuple[WeaveSite, ...]:
        return tuple(site for w in self.woven for site in w.result.sites)


def run(project: Project, config: Config, library: Sequence[Library] | None = None) -> Outcome:
    analysis = analyse(project.root, project.name, project.dependencies,
                       project.optional_dependencies, project.files)
    warnings = [_unwoven(str(p)) for p in analysis.problems]
    if analysis.problems and config.strict:
        raise SourceError(analysis.problems[0])
    plan = make_plan(analysis, load_library() if library is None else library, config,
                     project.scripts)
    woven: list[WovenModule] = []
    ignored: list[WeaveSite] = []
    for module in analysis.modules:
        if _excluded(module.file, project.root, config.exclude):
            continue
        unit = ModuleInput(module.file.distribution_path, module.module, plan.runtime_package,
                           plan.rules_for(module), module.module in plan.bootstrap_modules)
        if not unit.rules and not unit.bootstrap:
            continue
        original = module.file.path.read_bytes()
        encoding = tokenize.detect_encoding(io.BytesIO(original).readline)[0]
        try:
            result = weave_source(original.decode(encoding), unit)
        except ParseFailure as failure:
            if config.strict:
                raise SourceError(failure.problem) from None
            warnings.append(_unwoven(str(failure.problem)))
            continue
        ignored += result.ignored
        if result.changed:
            woven.append(WovenModule(module, original, result.source.encode(encoding), result))
    outcome = Outcome(analysis, plan, tuple(woven), tuple(ignored), tuple(warnings))
    _check_project_rules_matched(outcome)
    return outcome


def _unwoven(problem: str) -> str:
    return f"{problem} (shipped unwoven: strict = false)"


def _excluded(file: ProjectFile, root: Path, patterns: Sequence[str]) -> bool:
    paths = {file.distribution_path}
    with contextlib.suppress(ValueError):  # a file from outside the root (force-include)
        paths.add(file.path.resolve().relative_to(root.resolve()).as_posix())
    return any(fnmatch.fnmatchcase(path, pattern) for path in paths for pattern in patterns)


def _check_project_rules_matched(outcome: Outcome) -> None:
    matched = {site.rule_id for site in (*outcome.sites, *outcome.ignored)}
    problems = [
        f"{rule.origin}: `{rule.target}` matched no function of the project; fix the pattern "
        "(module:qualified.name, globs allowed) or set `optional = true`"
        for rule in outcome.plan.rules
        if rule.project_rule and not rule.optional and rule.id not in matched
    ]
    if problems:
        raise ConfigError(problems)
