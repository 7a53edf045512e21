"""The build, top-down: analyse -> plan -> weave. (The hook then bundles the outcome.)

Kept apart from the hatchling hook so that `hatch-otel plan` and `hatch-otel diff` run exactly
what a build runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .analyse import Analysis, SourceModule, Watch, analyse
from .cache import NO_CACHE, Cache
from .config import Config
from .errors import UNPARSABLE_REMEDY, SourceProblem
from .plan import Plan, make_plan
from .project import Project, ProjectFile
from .rules import Library, Rule, load_library
from .weave import ModuleInput, WeaveResult, WeaveSite, weave_all


@dataclass(frozen=True)
class WovenModule:
    module: SourceModule
    original: bytes
    woven: bytes
    result: WeaveResult


@dataclass(frozen=True)
class Outcome:
    """Everything a build decided; `errors` says whether the build may go on."""

    analysis: Analysis
    plan: Plan
    woven: tuple[WovenModule, ...]
    strict: bool = True
    ignored: tuple[WeaveSite, ...] = ()
    unparsable: tuple[SourceProblem, ...] = ()
    unmatched: tuple[Rule, ...] = ()
    """The project's own rules that matched nothing (and are not `optional`)."""

    @property
    def sites(self) -> tuple[WeaveSite, ...]:
        return tuple(site for w in self.woven for site in w.result.sites)

    @property
    def errors(self) -> list[str]:
        """What fails the build, every problem at once."""
        errors = [
            f"{rule.origin}: `{rule.target}` matched no function of the project; fix the "
            "pattern (module:qualified.name, globs allowed) or set `optional = true`"
            for rule in self.unmatched
        ]
        if self.strict and self.unparsable:
            errors += [str(p) for p in self.unparsable] + [UNPARSABLE_REMEDY]
        return errors

    @property
    def warnings(self) -> list[str]:
        if self.strict:
            return []
        return [f"{p} (shipped unwoven: strict = false)" for p in self.unparsable]


def run(project: Project, config: Config, library: Sequence[Library] | None = None,
        cache: Cache = NO_CACHE) -> Outcome:
    """Analyse, plan and weave in memory; nothing is written and nothing raised for sources."""
    library = load_library() if library is None else library
    analysis = analyse(project.root, project.name, project.dependencies,
                       project.optional_dependencies, project.files, cache,
                       _watch(library, config))
    unparsable = list(analysis.problems)
    plan = make_plan(analysis, library, config, project.scripts)
    candidates = []
    for module in analysis.modules:
        if _excluded(module.file, project.root, config.exclude):
            continue
        unit = ModuleInput(module.file.distribution_path, module.module, plan.runtime_package,
                           plan.rules_for(module), module.module in plan.bootstrap_modules)
        if unit.rules or unit.bootstrap:
            original = module.file.path.read_bytes()
            encoding = tokenize.detect_encoding(io.BytesIO(original).readline)[0]
            candidates.append((module, original, encoding, unit))
    results = weave_all([(original.decode(encoding), unit)
                         for _, original, encoding, unit in candidates], cache)
    woven: list[WovenModule] = []
    ignored: list[WeaveSite] = []
    matched: set[str] = set()
    for (module, original, encoding, _), result in zip(candidates, results, strict=True):
        if isinstance(result, SourceProblem):
            path = _relative(module.file, project.root) or result.path
            unparsable.append(dataclasses.replace(result, path=path))
            continue
        ignored += result.ignored
        matched.update(result.earlier)
        if result.changed:
            woven.append(WovenModule(module, original, result.source.encode(encoding), result))
    matched.update(site.rule_id for w in woven for site in w.result.sites)
    matched.update(site.rule_id for site in ignored)
    unmatched = tuple(rule for rule in plan.rules if rule.project_rule and not rule.optional
                      and rule.id not in matched)
    return Outcome(analysis, plan, tuple(woven), config.strict, tuple(ignored),
                   tuple(unparsable), unmatched)


def _watch(library: Sequence[Library], config: Config) -> Watch:
    """What the rules can act on: the sources naming none of it need not be parsed.

    A glob in a target's first part (`*.connect`) leaves an empty name, found in every source."""
    names = {module.partition(".")[0] for lib in library for module in lib.modules}
    modules = []
    for rule in (*(r for lib in library for r in lib.rules), *config.rules):
        if rule.join_point == "function" and rule.decorator is None:
            modules.append(rule.target.partition(":")[0])
        else:  # a call or import target, or a decorator: a dotted name, maybe a glob
            names.add(re.split(r"[.*?\[]", rule.decorator or rule.target, maxsplit=1)[0])
    return Watch(frozenset(names), tuple(modules))


def _relative(file: ProjectFile, root: Path) -> str | None:
    """The file's path from the project root (None for a file from outside it)."""
    with contextlib.suppress(ValueError):
        return file.path.resolve().relative_to(root.resolve()).as_posix()
    return None


def _excluded(file: ProjectFile, root: Path, patterns: Sequence[str]) -> bool:
    if not patterns:
        return False
    paths = {file.distribution_path, _relative(file, root) or file.distribution_path}
    return any(fnmatch.fnmatchcase(path, pattern) for path in paths for pattern in patterns)

