"""Phase 2: decide which rules apply, and say why for every one that does not.

A library's rules apply when the project uses the library (declares, locks or imports it), its
version is inside the rule's supported range, and the configuration does not disable it. Every
decision carries its reason; the build prints them all, so nothing is skipped silently.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from .analyse import Analysis, SourceModule
from .config import Config
from .rules import Library, Rule


@dataclass(frozen=True)
class Decision:
    """Whether one library's rules apply to this build, and why."""

    library: str
    version: str
    """What the build knows of the version: `3.1.3 (uv.lock)`, `>=3 (declared)`, `Python 3.11`."""
    selected: bool
    reason: str
    rules: tuple[str, ...] = ()
    unused: bool = False
    """Skipped only because the project does not use the library (summarised in one line)."""


@dataclass(frozen=True)
class Plan:
    project: str
    runtime_package: str
    """Dotted name of the bundled runtime, e.g. `greeter._otel`."""
    bootstrap_modules: frozenset[str]
    decisions: tuple[Decision, ...]
    rules: tuple[Rule, ...]
    libraries: tuple[Library, ...]

    def rules_for(self, module: SourceModule) -> tuple[Rule, ...]:
        """The rules that can possibly match in `module`: the cheap pre-filter before libcst."""
        return tuple(r for r in self.rules if _may_match(r, module))


def make_plan(analysis: Analysis, library: Sequence[Library], config: Config,
              scripts: Iterable[str] = ()) -> Plan:
    decisions: list[Decision] = []
    selected: list[Library] = []
    for lib in library:
        decision = _decide(lib, analysis, config)
        decisions.append(decision)
        if decision.selected:
            selected.append(lib)
    project_rules = tuple(dataclasses.replace(r, library=_instrumentation_name(
        analysis.project_name)) for r in config.rules)
    if project_rules:
        decisions.append(Decision(_instrumentation_name(analysis.project_name), "(own rules)",
                                  True, "trace and hook rules from the otel table",
                                  tuple(r.id for r in project_rules)))
    package = runtime_package(analysis)
    return Plan(
        project=analysis.project_name,
        runtime_package=package,
        bootstrap_modules=_bootstrap_modules(analysis, scripts),
        decisions=tuple(decisions),
        rules=tuple(r for lib in selected for r in lib.rules) + project_rules,
        libraries=tuple(selected),
    )


def _instrumentation_name(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def runtime_package(analysis: Analysis) -> str:
    """`<top-level package>._otel`: the project's own package (by name) or its first one."""
    packages = sorted({m.module.split(".")[0] for m in analysis.modules if "." in m.module
                       or m.is_package_init})
    wanted = re.sub(r"[-.]+", "_", analysis.project_name).lower()
    if not packages:
        return f"{wanted}_otel"
    return f"{wanted if wanted in packages else packages[0]}._otel"


def _bootstrap_modules(analysis: Analysis, scripts: Iterable[str]) -> frozenset[str]:
    """Where the runtime is imported before any app code: package inits, __main__, scripts."""
    names = {m.module for m in analysis.modules
             if "." not in m.module or m.module.endswith(".__main__")}
    names.update(script.partition(":")[0].strip() for script in scripts)
    return frozenset(names)


def _decide(lib: Library, analysis: Analysis, config: Config) -> Decision:
    rules = tuple(r.id for r in lib.rules)

    def decision(version: str, selected: bool, reason: str, unused: bool = False) -> Decision:
        return Decision(lib.name, version, selected, reason, rules, unused)

    if lib.name in config.disable:
        return decision("-", False, f"disabled by configuration ({config.table}.disable)")
    if lib.python and not lib.python.contains(analysis.python_version, prereleases=True):
        return decision("-", False, f"needs Python {lib.python}, building with "
                        f"{analysis.python_version}")
    imported = any(analysis.imports_module(m) for m in lib.modules)
    if lib.is_stdlib:
        version = f"Python {analysis.python_version}"
        if not imported:
            return decision(version, False, "not imported by the project", unused=True)
        if not lib.versions.contains(analysis.python_version, prereleases=True):
            return decision(version, False, f"Python {analysis.python_version} is outside the "
                            f"supported range {lib.versions}")
        supported = f"in the supported range {lib.versions}" if lib.versions else "supported"
        return decision(version, True, f"imported from the standard library; "
                        f"Python {analysis.python_version} is {supported}")
    name = lib.distribution or lib.name
    locked = analysis.locked.get(name)
    declared = analysis.declared.get(name)
    if locked is not None:
        version = f"{locked.version} ({locked.source})"
        if not lib.versions.contains(locked.version, prereleases=True):
            return decision(version, False, f"version {locked.version} is outside the supported "
                            f"range {lib.versions}")
        return decision(version, True, f"locked at {locked.version}, in {lib.versions or 'any'}")
    if declared is not None:
        version = f"{declared.specifier or 'any'} (declared)"
        if not may_overlap(declared.specifier, lib.versions):
            return decision(version, False, f"declared {declared.specifier} admits no version in "
                            f"the supported range {lib.versions}")
        return decision(version, True, f"declared {declared.specifier or 'without a version'}, "
                        f"which admits versions in {lib.versions or 'any'}")
    if imported:
        return decision("unknown", True, "imported but neither declared nor locked (a "
                        "transitive dependency?); applied, the version was not checked")
    return decision("-", False, "not used by the project (not declared, locked or imported)",
                    unused=True)


def may_overlap(declared: SpecifierSet, supported: SpecifierSet) -> bool:
    """Whether some version satisfies both ranges, tried at and just past every bound."""
    if not declared or not supported:
        return True
    candidates: list[Version] = []
    for spec in [*declared, *supported]:
        text = spec.version.rstrip(".*")
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        release = version.release + (0,) * (3 - len(version.release))
        candidates += [version, Version(".".join(map(str, (*release[:2], release[2] + 1))))]
    return any(declared.contains(v, prereleases=True) and supported.contains(v, prereleases=True)
               for v in candidates)


def _may_match(rule: Rule, module: SourceModule) -> bool:
    if rule.join_point == "import":
        return False  # applied at run time, when the library module is first imported
    if rule.join_point == "function":
        if rule.decorator is not None:
            return _imports_prefix(module.imports, rule.decorator)
        module_glob = rule.target.partition(":")[0]
        return fnmatch.fnmatchcase(module.module, module_glob) and bool(module.defines)
    return _imports_prefix(module.imports, rule.target)


def _imports_prefix(imports: Iterable[str], target: str) -> bool:
    """Could `target` (maybe a glob) resolve in a module with these imports?"""
    fixed = re.split(r"[*?\[]", target, maxsplit=1)[0].rstrip(".")
    return any(fixed == name or fixed.startswith(name + ".") or name.startswith(fixed)
               for name in imports)

