"""Lock files: which are there, and the exact versions they pin (PEP 751, uv, pip).

Kept apart from the source analysis because a warm build needs `lock_inputs` alone, to know
which files its reuse key covers, and nothing else of the analysis.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from hatch_otel.errors import ConfigError, first_line
from hatch_otel.project import display_path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@dataclass(frozen=True)
class LockedVersion:
    """An exact version pinned by the lock file: what rules compare version ranges against."""

    name: str
    version: Version
    source: str


_TOML_POSITION = re.compile(r"(?P<reason>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_INCLUDE = re.compile(r"(?:-r|--requirement)[\s=]*(?P<file>\S.*)")


def lock_file_candidates(root: Path) -> list[Path]:
    """The lock files present, in precedence order: PEP 751, then uv, then pip requirements."""
    candidates = [
        root / "pylock.toml",
        *sorted(root.glob("pylock.*.toml")),
        root / "uv.lock",
        root / "requirements.txt",
        *sorted(root.glob("requirements*.txt")),
    ]
    return [path for path in candidates if path.is_file()]


def lock_inputs(root: Path) -> list[Path]:
    """Every file the lock reading depends on: the candidates, and the files that
    requirements files include (`-r`), so a change to any of them is seen."""
    inputs: list[Path] = []
    pending = lock_file_candidates(root)
    while pending:
        path = pending.pop()
        if path in inputs or not path.is_file():
            continue
        inputs.append(path)
        if path.suffix == ".txt":
            with contextlib.suppress(OSError, UnicodeDecodeError):
                for _, line in _logical_lines(path.read_text("utf-8-sig")):
                    include = _INCLUDE.fullmatch(line)
                    if include and "://" not in include["file"]:
                        pending.append(path.parent / include["file"])
    return inputs


def read_lock(path: Path, root: Path, project: str) -> dict[str, LockedVersion]:
    """Exact versions from the lock file, by canonical name; the first applicable entry wins."""
    locked: dict[str, LockedVersion] = {}
    if path.suffix == ".txt":
        _read_requirements(path, root, locked, set())
        return locked
    source = display_path(path, root)
    data = _load_toml(path, source)
    entries = (
        _uv_entries(data, source, project)
        if path.name == "uv.lock"
        else _pylock_entries(data, source)
    )
    for where, name, version in entries:
        _add_locked(locked, name, version, source, where)
    return locked


def _add_locked(
    locked: dict[str, LockedVersion], name: str, version: str, source: str, where: str
) -> None:
    """Record a pin unless an earlier entry already did."""
    if name in locked:
        return
    try:
        locked[name] = LockedVersion(name, Version(version), source)
    except InvalidVersion:
        raise ConfigError(
            [f"{where}: invalid version {version!r}; regenerate the lock file"]
        ) from None


def _load_toml(path: Path, source: str) -> dict[str, Any]:
    """Parse a TOML lock file, turning a syntax error into a message that names file and line."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.fullmatch(str(exc))
        place = f"{source}:{found['line']}:{found['column']}" if found else source
        reason = found["reason"] if found else str(exc)
        raise ConfigError(
            [f"{place}: invalid TOML: {reason}; fix or regenerate the lock file"]
        ) from None


def _tables(data: dict[str, Any], key: str, source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The `[[key]]` tables of a lock file, each with its position for messages."""
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError([f"{source}: `{key}` must be an array of tables; regenerate the file"])
    for index, entry in enumerate(entries):
        yield f"{source}: {key}[{index}]", entry


def _string(entry: dict[str, Any], key: str, where: str) -> str:
    """A required string field of a lock entry."""
    value = entry.get(key)
    if not isinstance(value, str):
        raise ConfigError([f"{where}: `{key}` must be a string; regenerate the lock file"])
    return value


def _marker(text: object, where: str) -> Marker:
    """Parse a marker found in a lock file, naming the entry when it is invalid."""
    try:
        return Marker(str(text))
    except InvalidMarker as exc:
        raise ConfigError(
            [f"{where}: invalid marker {text!r}: {first_line(exc)}; regenerate the lock file"]
        ) from None


def _pylock_entries(data: dict[str, Any], source: str) -> Iterator[tuple[str, str, str]]:
    """PEP 751 packages whose marker holds for a default install on this interpreter."""
    environment = {"dependency_groups": frozenset(data.get("default-groups", ()))}
    for where, entry in _tables(data, "packages", source):
        name = canonicalize_name(_string(entry, "name", where))
        marker = entry.get("marker")
        if marker is not None and not _marker(marker, where).evaluate(
            environment, context="lock_file"
        ):
            continue
        if "version" in entry:  # directory and VCS packages may have none
            yield where, name, _string(entry, "version", where)


def _uv_entries(data: dict[str, Any], source: str, project: str) -> Iterator[tuple[str, str, str]]:
    """uv.lock packages, without the project itself and without forks for other interpreters."""
    for where, entry in _tables(data, "package", source):
        name = canonicalize_name(_string(entry, "name", where))
        origin = entry.get("source", {})
        if name == project or "editable" in origin or "virtual" in origin:
            continue
        forks = entry.get("resolution-markers", [])
        if forks and not any(_marker(fork, where).evaluate() for fork in forks):
            continue
        if "version" in entry:  # dynamic-version path dependencies have none
            yield where, name, _string(entry, "version", where)


def _read_requirements(
    path: Path, root: Path, locked: dict[str, LockedVersion], seen: set[Path]
) -> None:
    """Read pins from a pip requirements file and the files it includes, each only once."""
    seen.add(path.resolve())
    source = display_path(path, root)
    for number, line in _logical_lines(path.read_text("utf-8-sig")):
        where = f"{source}:{number}"
        include = _INCLUDE.fullmatch(line)
        if include:
            _include(path.parent / include["file"], include["file"], where, root, locked, seen)
        elif not line.startswith("-"):  # other options (-e, -c, --index-url) pin nothing
            pin = _requirement_pin(line, where)
            if pin:
                _add_locked(locked, pin[0], pin[1], source, where)


def _include(
    path: Path, text: str, where: str, root: Path, locked: dict[str, LockedVersion], seen: set[Path]
) -> None:
    """Follow `-r file`; cycles and repeated includes are read once."""
    if path.resolve() in seen or "://" in text:  # remote includes are pip's business, not ours
        return
    if not path.is_file():
        raise ConfigError([f"{where}: included file {text!r} does not exist; fix the -r line"])
    _read_requirements(path, root, locked, seen)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines as pip reads them: comments dropped, `\\` continuations joined, blanks skipped."""
    parts: list[str] = []
    start = 1
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        line = _COMMENT.sub("", raw)
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        joined = "".join([*parts, line]).strip()
        parts = []
        if joined:
            yield start, joined
    rest = "".join(parts).strip()
    if rest:
        yield start, rest


def _requirement_pin(line: str, where: str) -> tuple[str, str] | None:
    """(name, version) for an exact pin whose marker holds; None for anything else pip accepts."""
    text = " ".join(takewhile(lambda token: not token.startswith("-"), line.split()))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        if "/" in text or "\\" in text or text.startswith("."):  # a local path or URL
            return None
        raise ConfigError(
            [f"{where}: invalid requirement {text!r}: {first_line(exc)}; fix the line"]
        ) from None
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None
    pins = [
        spec.version
        for spec in requirement.specifier
        if spec.operator in ("==", "===") and not spec.version.endswith(".*")
    ]
    if len(pins) != 1:
        return None
    return canonicalize_name(requirement.name), pins[0]
