"""Weave a throwaway project in-process and import both its original and its woven modules.

`build(tmp_path, files, otel)` writes the files, runs the real pipeline (analyse, plan, weave)
and materialises what the wheel would install: every original file, overlaid with the bundle
(the woven files and `<pkg>/_otel/`). `Build.original(...)` and `Build.woven(...)` import the
same dotted names from the two trees; only one tree is in `sys.modules` at a time, and
`Build.close()` purges both, so tests may reuse a package name.

Importing this module installs the session's real SDK TracerProvider with an in-memory
`EXPORTER`, before any bundled bootstrap runs; the bootstrap never replaces a provider that is
already set, so woven code reports its spans there (`Spans` reads them; the `spans` fixture is in
test_faithful.py).
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from hatch_otel.analyse import ProjectFile  # noqa: E402
from hatch_otel.bundle import write_bundle  # noqa: E402
from hatch_otel.config import load  # noqa: E402
from hatch_otel.pipeline import Outcome, Project, run  # noqa: E402

EXPORTER = InMemorySpanExporter()


def install_provider() -> None:
    """Runs once, on import: set the session's SDK provider, or join one already set."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.add_span_processor(SimpleSpanProcessor(EXPORTER))
        return
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        raise RuntimeError(f"a non-SDK tracer provider is already set: {current!r}")


install_provider()


@dataclass
class Spans:
    """The finished spans: all of them, by name, or the one span of a name."""

    exporter: InMemorySpanExporter

    def __call__(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in self()]}"
        return found[0]

    def clear(self) -> None:
        self.exporter.clear()


@dataclass
class Build:
    """One woven project: the pipeline's outcome and the two importable trees."""

    outcome: Outcome
    source: Path
    """The project as written (the original, unwoven files)."""
    tree: Path
    """What the wheel installs: the original files overlaid with the bundle."""
    packages: frozenset[str]
    _loaded: str | None = field(default=None, repr=False)

    def original(self, module: str) -> ModuleType:
        return self._import(self.source, module)

    def woven(self, module: str) -> ModuleType:
        return self._import(self.tree, module)

    def pair(self, module: str) -> tuple[ModuleType, ModuleType]:
        """(original, woven); the woven tree stays in sys.modules, so lazy imports find it."""
        return self.original(module), self.woven(module)

    def woven_source(self, distribution_path: str) -> str:
        return (self.tree / distribution_path).read_text("utf-8")

    def _import(self, root: Path, module: str) -> ModuleType:
        if self._loaded != str(root):
            self.close()
            sys.path.insert(0, str(root))
            importlib.invalidate_caches()
            self._loaded = str(root)
        return importlib.import_module(module)

    def close(self) -> None:
        """Forget every module of the project's packages and take the tree off sys.path."""
        for name in [n for n in sys.modules if n.partition(".")[0] in self.packages]:
            del sys.modules[name]
        if self._loaded is not None:
            sys.path.remove(self._loaded)
            self._loaded = None


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, "utf-8")


def project(root: Path, name: str, paths: Iterable[str]) -> Project:
    files = tuple(ProjectFile(root / p, p) for p in sorted(paths))
    return Project(root=root, name=name, files=files)


def weave(root: Path, files: Mapping[str, str | bytes], otel: Mapping[str, Any],
          name: str | None = None) -> Outcome:
    """Write `files` under `root` and run the real pipeline over them."""
    write_files(root, files)
    name = name or sorted(files)[0].split("/")[0].removesuffix(".py")
    outcome = run(project(root, name, files), load(otel, root))
    assert not outcome.errors, outcome.errors
    return outcome


def build(directory: Path, files: Mapping[str, str | bytes], otel: Mapping[str, Any],
          name: str | None = None) -> Build:
    """Weave `files` with the `otel` table and materialise both importable trees."""
    source, tree = directory / "source", directory / "tree"
    outcome = weave(source, files, otel, name)
    shutil.copytree(source, tree)
    write_bundle(outcome, tree)
    packages = frozenset(p.split("/")[0].removesuffix(".py") for p in files)
    return Build(outcome, source, tree, packages)
