"""A content-hash cache: the per-file work of a build (the `ast` scan and the weave, in packs)
and the whole builds that `reuse.py` keeps.

Entries are keyed by hatch-otel itself (`tool_fingerprint`), everything the result depends on,
and the file's bytes, so a stale entry is never read: a changed file, rule or hatch-otel is a
new key.
They live in the user's cache directory (like pip's and uv's), are written atomically, and
a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .rules import library_root


def default_directory() -> Path | None:
    """HATCH_OTEL_CACHE_DIR, else the XDG cache directory; HATCH_OTEL_NO_CACHE=1 turns it off."""
    if os.environ.get("HATCH_OTEL_NO_CACHE", "") not in ("", "0"):
        return None
    explicit = os.environ.get("HATCH_OTEL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hatch-otel"


@cache
def tool_fingerprint() -> str:
    """hatch-otel's version and the size and time of each of its files and rules: a working
    copy installed for development gets new keys when it is edited, whatever its version."""
    digest = hashlib.sha256(__version__.encode())
    package, library = Path(__file__).parent, library_root()
    # an installed wheel carries the library inside the package; a checkout has it beside
    for folder in (package,) if library.is_relative_to(package) else (package, library):
        for directory, subfolders, names in os.walk(folder):
            subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
            for name in sorted(names):
                if name.endswith((".py", ".toml")):
                    path = os.path.join(directory, name)
                    stat = os.stat(path)
                    relative = os.path.relpath(path, folder)
                    digest.update(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Cache:
    """Single entries under `<directory>/<namespace>/<key>.json`, and packs (see `Pack`)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @staticmethod
    def key(*parts: str | bytes) -> str:
        digest = hashlib.sha256(tool_fingerprint().encode())
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def _path(self, namespace: str, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / namespace / f"{key}.json"

    def folder(self, namespace: str, key: str) -> Path | None:
        """Where a whole folder for `key` lives (None without a cache directory)."""
        return None if self.directory is None else self.directory / namespace / key

    def get(self, namespace: str, key: str) -> Any:
        path = self._path(namespace, key)
        return None if path is None else _read(path)

    def put(self, namespace: str, key: str, value: Any) -> None:
        path = self._path(namespace, key)
        if path is not None:
            _write(path, value)

    def pack(self, namespace: str) -> Pack:
        return Pack(None if self.directory is None else self.directory / f"{namespace}.json")


class Pack:
    """The per-file entries of one namespace (`scan`, `weave`), read at once and written at once.

    A cold build makes hundreds of them; a file each cost it a fifth of its time in file
    creation. A pack keeps the entries the last build used or made: it stays the size of one
    project and serves the next build of it (the loop of editing a file and building)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stored: dict[str, Any] | None = None
        self._kept: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        if self._stored is None:
            stored = None if self.path is None else _read(self.path)
            self._stored = stored if isinstance(stored, dict) else {}
        value = self._stored.get(key)
        if value is not None:
            self._kept[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self._kept[key] = value

    def save(self) -> None:
        if self.path is not None:
            _write(self.path, self._kept)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write(path: Path, value: Any) -> None:
    """Written beside its place under the process's own name, then renamed over it: readers
    see a whole entry or none. A cache that cannot be written is simply not used."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            temporary.write_bytes(json.dumps(value, separators=(",", ":")).encode())
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise


NO_CACHE = Cache(None)
