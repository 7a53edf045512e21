"""A content-hash cache for the per-file work of a build (the `ast` scan and the weave).

Entries are keyed by the tool's version, everything the result depends on, and the file's
bytes, so a stale entry is never read: a changed file, rule or hatch-otel version is a new key.
They live in the user's cache directory (like pip's and uv's), are written atomically, and
a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import __version__


def default_directory() -> Path | None:
    """HATCH_OTEL_CACHE_DIR, else the XDG cache directory; HATCH_OTEL_NO_CACHE=1 turns it off."""
    if os.environ.get("HATCH_OTEL_NO_CACHE", "") not in ("", "0"):
        return None
    explicit = os.environ.get("HATCH_OTEL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hatch-otel"


class Cache:
    """JSON entries under `<directory>/<namespace>/<key[:2]>/<key>.json`."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @staticmethod
    def key(*parts: str | bytes) -> str:
        digest = hashlib.sha256(__version__.encode())
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def _path(self, namespace: str, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / namespace / key[:2] / f"{key}.json"

    def get(self, namespace: str, key: str) -> Any:
        path = self._path(namespace, key)
        if path is None:
            return None
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, namespace: str, key: str, value: Any) -> None:
        path = self._path(namespace, key)
        if path is None:
            return
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(json.dumps(value, separators=(",", ":")).encode())
                os.replace(temporary, path)
            except OSError:
                os.unlink(temporary)
                raise


NO_CACHE = Cache(None)
