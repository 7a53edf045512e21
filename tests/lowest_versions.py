"""Run each hook library's tests with the library pinned at the lowest version it supports.

    .venv/bin/python tests/lowest_versions.py [NAME ...]

For every hook_library folder with a distribution and an inclusive lower bound in `versions`
(or only those NAMEd, by folder or library name), runs `tests/test_lib_*<name>*.py` in a pytest
session of its own with HATCH_OTEL_PIN_<DISTRIBUTION>=<bound> set, so tests/apps.py's
`require()` installs that version instead of the newest. The outcomes go into
docs/lowest-versions.json (merged with the earlier ones), then docs/instrumentations.md is
generated again. Exits 1 when a library failed at its lowest version.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hatch_otel import docs  # noqa: E402
from hatch_otel.rules import Library, load_library  # noqa: E402

PIN_PREFIX = "HATCH_OTEL_PIN_"  # read by tests/apps.py:pinned()


def lower_bound(library: Library) -> str | None:
    """The lowest version the range admits, when a specifier names it (>=, ~= or ==)."""
    bounds = [s.version for s in library.versions
              if s.operator in (">=", "~=", "===") or (s.operator == "==" and "*" not in
                                                       s.version)]
    return bounds[0] if len(bounds) == 1 else None


TEST_FILES = {  # libraries sharing a distribution: the file names alone would pick both
    "aiohttp-client": ["test_lib_clients_aiohttp.py"],
    "aiohttp-server": ["test_lib_servers_aiohttp.py"],
}


def test_files(library: Library) -> list[Path]:
    if library.name in TEST_FILES:
        return [REPO / "tests" / name for name in TEST_FILES[library.name]]
    names = {library.folder.name, re.sub(r"[-.]+", "_", library.name)}
    if library.distribution:
        names.add(re.sub(r"[-.]+", "_", library.distribution))
    found = {path for name in names for path in (REPO / "tests").glob(f"test_lib_*{name}*.py")}
    return sorted(found)


def run(library: Library, bound: str) -> dict[str, Any]:
    """One pytest session for the library's tests, pinned at `bound`; its outcome."""
    assert library.distribution is not None
    files = test_files(library)
    result: dict[str, Any] = {"version": bound, "python": platform.python_version(),
                              "date": datetime.date.today().isoformat(),
                              "tests": [path.name for path in files]}
    if not files:
        return {**result, "outcome": "no tests"}
    variable = PIN_PREFIX + re.sub(r"[-_.]+", "_", library.distribution).upper()
    with tempfile.TemporaryDirectory(prefix="lowest-") as temporary:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *map(str, files), "-q", "-p", "no:cacheprovider",
             "--basetemp", temporary],
            cwd=REPO, capture_output=True, text=True,
            env={**os.environ, variable: bound})
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else completed.stderr.strip()[-300:]
    outcome = {0: "passed", 5: "no tests ran"}.get(completed.returncode, "failed")
    failures = [line[:300] for line in lines if line.startswith(("FAILED", "ERROR"))]
    return {**result, "outcome": outcome, "summary": summary,
            **({"failures": failures} if failures else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="hook library folders or names (default: all)")
    options = parser.parse_args(argv)
    libraries = [lib for lib in load_library(REPO / "hook_library") if lib.distribution and (
        not options.names or lib.name in options.names or lib.folder.name in options.names)]
    path = REPO / docs.LOWEST_VERSIONS
    results = docs.read_lowest(path)
    failed = False
    for library in libraries:
        bound = lower_bound(library)
        if bound is None:
            print(f"{library.name}: no single inclusive lower bound in {library.versions}; "
                  "skipped")
            continue
        print(f"{library.name}: testing {library.distribution}=={bound} ...", flush=True)
        results[library.name] = run(library, bound)
        outcome = results[library.name]
        print(f"{library.name}: {outcome['outcome']} ({outcome.get('summary', '')})", flush=True)
        failed = failed or outcome["outcome"] == "failed"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")
    docs.main(["--root", str(REPO)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
