"""A whole build's result, reused while nothing it depends on has changed: the warm build.

What a wheel build takes from the hook is a folder of files (the woven modules and the
bundle), the dependencies to add, and the lines to print. On a cold build that folder is
written into the cache, under one key hashed from everything the outcome depends on:
hatch-otel itself, the interpreter, the configuration, the project's metadata, its lock files,
and the list and bytes of its sources. A warm build finds the key from the sources' stat, and
hands hatchling the stored folder: no analysis, no weaving, nothing written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import default_environment

from .cache import Cache
from .locks import lock_inputs

if TYPE_CHECKING:
    from .config import Config
    from .project import Project

RECORD = "record.json"
KEPT_BUILDS = 16
"""Stored builds kept per cache; the least recently used beyond this are removed."""


@dataclass(frozen=True)
class Built:
    """What the hook hands the wheel builder."""

    directory: Path
    files: dict[str, str]
    """File under `directory` -> its path in the wheel."""
    dependencies: tuple[str, ...]
    info: tuple[str, ...]
    """Lines every build prints."""
    debug: tuple[str, ...]
    """Lines a verbose build prints."""
    temporary: bool
    """Whether `directory` is the build's own, to remove once the wheel is written."""


@dataclass(frozen=True)
class Contents:
    """What a cold build writes into the folder, and says about it."""

    paths: tuple[str, ...]
    """The files written, by their path in the wheel, which is also their path in the folder."""
    dependencies: tuple[str, ...]
    info: tuple[str, ...]
    debug: tuple[str, ...]


def build_key(project: Project, config: Config, cache: Cache) -> str:
    """Everything a build's outcome depends on, hashed, the sources by their bytes.

    Reading every source is most of a warm build's work, so the key is also recorded under
    the sources' stat (size, times, inode), as git's index does, and found from the stat alone
    the next time. Not when a source changed in the last SETTLED_SECONDS: a change within its
    timestamps' resolution could leave its stat as it was."""
    settings: list[str | bytes] = [
        sys.version, repr(sorted(default_environment().items())), repr(config), project.name,
        repr(project.dependencies), repr(sorted(project.optional_dependencies.items())),
        repr(project.scripts), str(project.root),
    ]
    for lock in lock_inputs(project.root):
        with contextlib.suppress(OSError):
            settings += [str(lock), lock.read_bytes()]
    files = sorted(project.files, key=lambda f: f.distribution_path)
    sources = [f.path for f in files if f.distribution_path.endswith(".py")]
    listing = [f"{f.distribution_path}\0{f.path}" for f in files]
    stats = _stats(sources)
    by_stat = Cache.key("stat", *settings, *listing, *stats)
    known = cache.get("keys", by_stat)
    if isinstance(known, str):
        return known
    key = Cache.key("build", *settings, *listing, *(path.read_bytes() for path in sources))
    settled = time.time_ns() - int(SETTLED_SECONDS * 1e9)
    if _stats(sources) == stats and all(int(s.split(":")[1]) < settled for s in stats):
        cache.put("keys", by_stat, key)
    return key


SETTLED_SECONDS = 2.0
"""How long ago a source must have last changed for its stat to stand for its bytes."""


def _stats(paths: list[Path]) -> list[str]:
    """`size:change time:modification time:inode:device` of each file (the change time moves
    on every write and cannot be set back, so an edit always shows)."""
    stats = [os.stat(path) for path in paths]
    return [f"{s.st_size}:{s.st_ctime_ns}:{s.st_mtime_ns}:{s.st_ino}:{s.st_dev}" for s in stats]


def reuse(cache: Cache, key: str) -> Built | None:
    """The stored build for `key`, if it is there whole."""
    folder = cache.folder("builds", key)
    if folder is None:
        return None
    try:
        record = json.loads((folder / RECORD).read_bytes())
        files = {str(folder / path): path for path in record["paths"]}
        if not all(os.path.isfile(path) for path in files):
            return None
        with contextlib.suppress(OSError):
            os.utime(folder)  # recently used: kept by _prune
        return Built(folder, files, tuple(record["dependencies"]), tuple(record["info"]),
                     tuple(record["debug"]), temporary=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build(cache: Cache, key: str, write: Callable[[Path], Contents]) -> Built:
    """Run `write` into a fresh folder, and keep that folder in the cache when there is one."""
    final = cache.folder("builds", key)
    staging = _staging(final) if final is not None else None
    if final is not None and staging is not None:
        try:
            contents = write(staging)
            (staging / RECORD).write_text(json.dumps({
                "paths": contents.paths, "dependencies": contents.dependencies,
                "info": contents.info, "debug": contents.debug}))
            try:
                os.rename(staging, final)
            except OSError:
                if reuse(cache, key) is None:  # a damaged earlier build: replace it
                    shutil.rmtree(final, ignore_errors=True)
                    os.rename(staging, final)
        except OSError:  # the cache is unusable (or another build got there first)
            pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _prune(staging.parent)
        stored = reuse(cache, key)
        if stored is not None:
            return stored
    directory = Path(tempfile.mkdtemp(prefix="hatch-otel-"))
    contents = write(directory)
    return Built(directory, {str(directory / path): path for path in contents.paths},
                 contents.dependencies, contents.info, contents.debug, temporary=True)


def _staging(final: Path) -> Path | None:
    """A fresh folder beside where the build will be kept (None when it cannot be)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    except OSError:
        return None


def _prune(builds: Path) -> None:
    """Keep the KEPT_BUILDS most recently used builds (and no abandoned staging folders)."""
    with contextlib.suppress(OSError):
        folders = sorted((p for p in builds.iterdir() if p.is_dir()),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for folder in folders[KEPT_BUILDS:]:
            shutil.rmtree(folder, ignore_errors=True)
