"""What hatchling knows of a project, turned into the pipeline's `Project`.

The build hook passes its own builder; the command line makes a wheel builder for a path, so
`hatch-otel plan` sees exactly the files and configuration a build would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config, load, table_path
from .errors import ConfigError


@dataclass(frozen=True)
class ProjectFile:
    """One file going into the wheel, as the build hook sees it."""

    path: Path
    distribution_path: str


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


def display_path(path: Path, root: Path) -> str:
    """Paths in messages are relative to the project root, so they read the same everywhere."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def from_builder(root: Path, builder: Any) -> Project:
    """A Project from a hatchling wheel builder (its metadata and its included files)."""
    core = builder.metadata.core
    files = tuple(
        ProjectFile(Path(f.path), f.distribution_path.replace("\\", "/"))
        for f in builder.recurse_included_files()
    )
    return Project(
        root=root,
        name=core.name,
        files=files,
        dependencies=tuple(core.dependencies),
        optional_dependencies={k: list(v) for k, v in core.optional_dependencies.items()},
        scripts=tuple(core.scripts.values()),
    )


def load_project(path: Path) -> tuple[Project, Config]:
    """The project at `path` and its `otel` table, as a wheel build would read them."""
    project, table = read_project(path)
    return project, load(table, project.root, table_path(project.root))


def read_project(path: Path) -> tuple[Project, dict[str, Any]]:
    """The project at `path` and its raw, unchecked `otel` table."""
    from hatchling.builders.wheel import WheelBuilder

    root = path.resolve()
    if not (root / "pyproject.toml").is_file():
        raise ConfigError([f"{root}: no pyproject.toml here; give the project's directory"])
    try:
        builder = WheelBuilder(str(root))
        hook_table = builder.config.hook_config.get("otel")
        project = from_builder(root, builder)
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError([f"{root / 'pyproject.toml'}: {exc}"]) from None
    if hook_table is None:
        raise ConfigError([
            f"{root / 'pyproject.toml'}: no otel hook table; add "
            "[tool.hatch.build.targets.wheel.hooks.otel] to instrument this project"
        ])
    return project, hook_table
