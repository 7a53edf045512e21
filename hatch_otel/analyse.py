"""Phase 1: find out what the project uses, as `go build -n` shows what a Go build reads.

The later phases decide what to instrument from this answer alone, so it is read-only, runs on
every build and must stay fast: `ast` for the sources (one pass over the statements of each
file), the pins of `locks.py` for the lock file, `packaging` for requirements and markers.
"""

from __future__ import annotations

import ast
import fnmatch
import gc
import os
import re
import sys
import warnings
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from hatch_otel.cache import NO_CACHE, Cache
from hatch_otel.errors import ConfigError, SourceProblem, first_line
from hatch_otel.locks import LockedVersion, lock_file_candidates, read_lock
from hatch_otel.project import ProjectFile, display_path


@dataclass(frozen=True)
class SourceModule:
    """What one `.py` file imports and defines: enough to match rules without re-parsing."""

    file: ProjectFile
    module: str
    imports: frozenset[str]
    defines: tuple[str, ...]
    is_package_init: bool


@dataclass(frozen=True)
class Watch:
    """What the rules can act on, so that a build parses only the sources that may matter.

    A source that is plain ASCII, declares no encoding, names none of `names` where it imports
    and is not a module of `modules` cannot import anything a rule acts on: it is recorded as
    importing and defining nothing, without being parsed. That is most files of a large
    project, and every file of one that uses no instrumented library. (A syntax error in such
    a file is left to Python to report, as a build without hatch-otel would.)
    """

    names: frozenset[str]
    """Top-level import names of the instrumented libraries and of the rules' targets."""
    modules: tuple[str, ...] = ()
    """`module` globs of the function rules (the project's own `trace` and `hook` rules)."""

    def needs_parsing(self, module: str, source: bytes) -> bool:
        head_end = source.find(b"\n", source.find(b"\n") + 1)  # the first two lines
        if not source.isascii() or b"coding" in (source if head_end < 0 else source[:head_end]):
            return True  # identifiers may be spelt in other characters (PEP 3131, PEP 263)
        if any(fnmatch.fnmatchcase(module, glob) for glob in self.modules):
            return True
        return self._named.search(_import_statements(source)) is not None

    @cached_property
    def _named(self) -> re.Pattern[bytes]:
        return re.compile(b"|".join(re.escape(name.encode()) for name in sorted(self.names)))


def _import_statements(source: bytes) -> bytes:
    """Every logical line of `source` holding the word `import` (joined across backslashes):
    where an imported module is named. The whole source when it names a dynamic importer,
    whose argument may be on any later line."""
    if b"import_module" in source or b"__import__" in source:
        return source
    if b"\r" in source:
        source = source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    found = []
    at = source.find(b"import")
    while at != -1:
        begin = source.rfind(b"\n", 0, at) + 1
        while begin >= 2 and source[begin - 2] == ord("\\"):  # the line above continues here
            begin = source.rfind(b"\n", 0, begin - 1) + 1
        end = source.find(b"\n", at)
        while end != -1 and source[end - 1] == ord("\\"):  # this line continues below
            end = source.find(b"\n", end + 1)
        end = len(source) if end == -1 else end
        found.append(source[begin:end])
        at = source.find(b"import", end)
    return b"\n".join(found)


@dataclass(frozen=True)
class DeclaredDependency:
    """One requirement from pyproject.toml, kept with its origin so messages can point at it."""

    name: str
    specifier: SpecifierSet
    extra: str | None
    requirement: str


@dataclass(frozen=True)
class Analysis:
    """Everything the planner needs to know about the project, computed once per build."""

    project_name: str
    python_version: Version
    modules: tuple[SourceModule, ...]
    declared: Mapping[str, DeclaredDependency]
    excluded_by_marker: tuple[DeclaredDependency, ...]
    locked: Mapping[str, LockedVersion]
    lock_file: str | None
    imported: frozenset[str]
    imported_top_levels: frozenset[str]
    stdlib_imports: frozenset[str]
    own_top_levels: frozenset[str]
    problems: tuple[SourceProblem, ...]

    def imports_module(self, module: str) -> bool:
        """Whether any source imports `module`, a submodule of it or a name inside it."""
        return any(_within(name, module) for name in self.imported)

    def modules_importing(self, module: str) -> tuple[SourceModule, ...]:
        """The sources that import `module` (same meaning as `imports_module`)."""
        return tuple(m for m in self.modules if any(_within(n, module) for n in m.imports))


def analyse(
    root: Path,
    project_name: str,
    dependencies: Sequence[str],
    optional_dependencies: Mapping[str, Sequence[str]],
    files: Iterable[ProjectFile],
    cache: Cache = NO_CACHE,
    watch: Watch | None = None,
) -> Analysis:
    """Answer "what does this project use?" from pyproject data, the lock file and the sources.

    With a `watch`, only the sources that may matter to it are parsed (see `Watch`); without
    one, every source is."""
    project = canonicalize_name(project_name)
    declared, excluded = _read_declared(project, dependencies, optional_dependencies)
    lock_path = next(iter(lock_file_candidates(root)), None)
    locked = read_lock(lock_path, root, project) if lock_path else {}
    modules, problems = _scan_files(root, files, cache, watch)
    imported = frozenset().union(*(m.imports for m in modules))
    top_levels = frozenset(name.partition(".")[0] for name in imported)
    return Analysis(
        project_name=project_name,
        python_version=Version(".".join(map(str, sys.version_info[:3]))),
        modules=modules,
        declared=MappingProxyType(declared),
        excluded_by_marker=tuple(excluded),
        locked=MappingProxyType(locked),
        lock_file=display_path(lock_path, root) if lock_path else None,
        imported=imported,
        imported_top_levels=top_levels,
        stdlib_imports=top_levels & sys.stdlib_module_names,
        own_top_levels=frozenset(m.module.partition(".")[0] for m in modules),
        problems=problems,
    )


def _within(name: str, module: str) -> bool:
    """`a.b.c` is within `a.b`; `a.bc` is not."""
    return name == module or name.startswith(module + ".")


# Declared dependencies ---------------------------------------------------------------------


def _read_declared(
    project: str, dependencies: Sequence[str], optional: Mapping[str, Sequence[str]]
) -> tuple[dict[str, DeclaredDependency], list[DeclaredDependency]]:
    """Parse every requirement, keep those whose marker holds here; report all bad ones at once."""
    groups: list[tuple[str | None, str, Sequence[str]]] = [
        (None, "project.dependencies", dependencies),
        *((name, f"project.optional-dependencies.{name}", reqs) for name, reqs in optional.items()),
    ]
    declared: dict[str, DeclaredDependency] = {}
    excluded: list[DeclaredDependency] = []
    problems: list[str] = []
    for extra, key, requirements in groups:
        for index, text in enumerate(requirements):
            try:
                requirement = Requirement(text)
            except InvalidRequirement as exc:
                problems.append(
                    f"{key}[{index}]: invalid requirement {text!r}: {first_line(exc)}; "
                    "fix it in pyproject.toml using PEP 508 syntax, e.g. 'name>=1.0'"
                )
                continue
            name = canonicalize_name(requirement.name)
            if name == project:  # "project[extra]" pulls in another group, not a dependency
                continue
            dependency = DeclaredDependency(name, requirement.specifier, extra, text)
            marker = requirement.marker
            if marker is None or marker.evaluate({"extra": extra or ""}):
                declared.setdefault(name, dependency)
            else:
                excluded.append(dependency)
    if problems:
        raise ConfigError(problems)
    return declared, excluded


# Sources -----------------------------------------------------------------------------------

_DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})


def _scan_files(
    root: Path, files: Iterable[ProjectFile], cache: Cache, watch: Watch | None
) -> tuple[tuple[SourceModule, ...], tuple[SourceProblem, ...]]:
    """Scan the `.py` files (those that may matter to `watch`); a file that does not parse is
    reported and left out."""
    modules: list[SourceModule] = []
    problems: list[SourceProblem] = []
    sources = sorted(
        (f for f in files if f.distribution_path.endswith(".py")),
        key=lambda f: f.distribution_path,
    )
    keys: dict[int, str] = {}
    scans = cache.pack("scan")
    results: list[SourceModule | SourceProblem | None] = []
    for index, file in enumerate(sources):
        source = file.path.read_bytes()
        parts, is_init = _module_parts(file)
        if watch is not None and not watch.needs_parsing(".".join(parts), source):
            results.append(SourceModule(file, ".".join(parts), frozenset(), (), is_init))
            continue
        keys[index] = cache.key(sys.version, file.distribution_path,
                                display_path(file.path, root), source)
        results.append(_from_cache(file, scans.get(keys[index])))
    missing = [i for i, scanned in enumerate(results) if scanned is None]
    size = sum(sources[i].path.stat().st_size for i in missing)
    workers = int(os.environ.get("HATCH_OTEL_JOBS", "0")) or os.cpu_count() or 1
    if workers > 1 and size >= PARALLEL_BYTES:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            fresh = list(pool.map(_scan_file, [sources[i] for i in missing], repeat(root),
                                  chunksize=max(1, len(missing) // (workers * 4))))
    else:
        fresh = [_scan_file(sources[i], root) for i in missing]
    for index, new in zip(missing, fresh, strict=True):
        results[index] = new
        scans.put(keys[index], _to_cache(new))
    scans.save()
    for result in results:
        if isinstance(result, SourceProblem):
            problems.append(result)
        elif result is not None:
            modules.append(result)
    return tuple(modules), tuple(problems)


PARALLEL_BYTES = 2_000_000
"""Below about 50,000 lines to scan, starting worker processes costs more than it saves."""


def _scan_file(file: ProjectFile, root: Path) -> SourceModule | SourceProblem:
    """One file's imports and definitions (a worker's job in large projects)."""
    source = file.path.read_bytes()
    with _parsing():
        tree = _parse(source, file.path, root)
    return tree if isinstance(tree, SourceProblem) else _scan_module(file, source, tree)


def _to_cache(scanned: SourceModule | SourceProblem) -> dict[str, Any]:
    if isinstance(scanned, SourceProblem):
        return {"problem": [scanned.path, scanned.line, scanned.column, scanned.reason]}
    return {"module": scanned.module, "imports": sorted(scanned.imports),
            "defines": list(scanned.defines), "is_package_init": scanned.is_package_init}


def _from_cache(file: ProjectFile, entry: Any) -> SourceModule | SourceProblem | None:
    if not isinstance(entry, dict):
        return None
    if "problem" in entry:
        path, line, column, reason = entry["problem"]
        return SourceProblem(path, line, column, reason)
    return SourceModule(file, entry["module"], frozenset(entry["imports"]),
                        tuple(entry["defines"]), entry["is_package_init"])


def _parse(source: bytes, path: Path, root: Path) -> ast.Module | SourceProblem:
    """Parse with the building interpreter's grammar; bytes let `ast` honour coding cookies."""
    try:
        return ast.parse(source, str(path))
    except SyntaxError as exc:
        return SourceProblem(display_path(path, root), exc.lineno or 1, exc.offset or 1, exc.msg)
    except ValueError as exc:  # null bytes, before Python 3.12 made that a SyntaxError
        return SourceProblem(display_path(path, root), 1, 1, str(exc))


@contextmanager
def _parsing() -> Iterator[None]:
    """Silence compiler warnings (not ours to report) and pause the cyclic garbage collector.

    AST trees hold no cycles and are freed by reference counting, while the collector, woken
    by their allocations, costs about a fifth of the parse time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if enabled:
            gc.enable()


def _scan_module(file: ProjectFile, source: bytes, tree: ast.Module) -> SourceModule:
    """Collect imports and function qualnames of one parsed file."""
    parts, is_init = _module_parts(file)
    scan = _Scan(parts if is_init else parts[:-1])
    scan.block(tree.body, "")
    lines = _importer_lines(source)
    if lines:
        scan.imports.update(_dynamic_imports(tree, lines))
    return SourceModule(
        file=file,
        module=".".join(parts),
        imports=frozenset(scan.imports),
        defines=tuple(dict.fromkeys(scan.defines)),
        is_package_init=is_init,
    )


def _module_parts(file: ProjectFile) -> tuple[list[str], bool]:
    """The dotted module name of a file, as parts, and whether it is a package's `__init__`."""
    parts = file.distribution_path.removesuffix(".py").split("/")
    is_init = parts[-1] == "__init__"
    return (parts[:-1] if is_init else parts), is_init


class _Scan:
    """One walk over the statements of a file; expressions never hold imports or defs."""

    def __init__(self, package: list[str]) -> None:
        self.package = package
        self.imports: set[str] = set()
        self.defines: list[str] = []

    def block(self, body: list[ast.stmt], prefix: str) -> None:
        """Visit a statement list; `prefix` makes qualnames like `C.m` or `f.<locals>.g`."""
        for node in body:
            if isinstance(node, ast.Import):
                self.imports.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defines.append(prefix + node.name)
                self.block(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, ast.ClassDef):
                self.block(node.body, f"{prefix}{node.name}.")
            else:
                for inner in _blocks(node):
                    self.block(inner, prefix)

    def _import_from(self, node: ast.ImportFrom) -> None:
        """`from a import b` imports `a` and maybe `a.b`; relative forms resolve to absolute."""
        if node.level > len(self.package):
            return  # beyond the top-level package: an ImportError at run time
        base = self.package[: len(self.package) - node.level + 1] if node.level else []
        module = ".".join([*base, node.module] if node.module else base)
        self.imports.add(module)
        self.imports.update(f"{module}.{a.name}" for a in node.names if a.name != "*")


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The nested statement lists of a compound statement (if, for, with, try, match...)."""
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if block:
            yield block
    for handler in getattr(node, "handlers", ()):
        yield handler.body
    for case in getattr(node, "cases", ()):
        yield case.body


def _importer_lines(source: bytes) -> list[int]:
    """Line numbers naming a dynamic importer: most files have none and skip the walk."""
    if b"import_module" not in source and b"__import__" not in source:
        return []
    return [
        number
        for number, line in enumerate(source.splitlines(), 1)
        if b"import_module" in line or b"__import__" in line
    ]


def _dynamic_imports(tree: ast.Module, lines: list[int]) -> Iterator[str]:
    """`importlib.import_module("x")` and `__import__("x")` with a constant absolute name.

    Only nodes spanning one of `lines` are visited, which keeps this walk off the hot path.
    """
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.stmt, ast.expr)) and not _spans(
            lines, node.lineno, node.end_lineno or node.lineno
        ):
            continue
        if isinstance(node, ast.Call) and node.args:
            name = _constant_import(node)
            if name:
                yield name
        stack.extend(ast.iter_child_nodes(node))


def _spans(lines: list[int], first: int, last: int) -> bool:
    """Whether a sorted line list has an entry in [first, last]."""
    index = bisect_left(lines, first)
    return index < len(lines) and lines[index] <= last


def _constant_import(call: ast.Call) -> str | None:
    """The module named by an importer call, if it is a constant absolute name."""
    func, arg = call.func, call.args[0]
    callee = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if callee not in _DYNAMIC_IMPORTERS or not isinstance(arg, ast.Constant):
        return None
    name = arg.value
    return name if isinstance(name, str) and name and not name.startswith(".") else None
