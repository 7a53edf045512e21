"""docs/instrumentations.md is generated from the hook library and must be kept current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hatch_otel import docs

REPO = Path(__file__).resolve().parent.parent

RULES = '''
name = "{name}"
{distribution}
modules = ["{name}"]
versions = "{versions}"
description = "A library."

[docs]
spans = "CLIENT `{{operation}}`"
attributes = "a | b"
metrics = "x.duration (s)"

[[rules]]
id = "{name}.connect"
join-point = "call"
target = "{name}.connect"
before = "trace"
'''


def _library(root: Path, name: str, distribution: str | None, versions: str) -> None:
    folder = root / "hook_library" / name
    folder.mkdir(parents=True)
    (folder / "rules.toml").write_text(RULES.format(
        name=name, versions=versions,
        distribution=f'distribution = "{distribution}"' if distribution else ""))


def test_the_committed_document_is_current():
    document = (REPO / docs.DOCUMENT).read_text("utf-8")
    assert document == docs.expected(REPO), (
        "docs/instrumentations.md is stale: run `python -m hatch_otel.docs` and commit it")


def test_one_row_per_library_with_its_lowest_version_result(tmp_path: Path):
    _library(tmp_path, "fastdb", "fastdb-client", ">=2.1,<3")
    _library(tmp_path, "sqlite3", None, ">=3.10")
    _library(tmp_path, "slowdb", "slowdb", ">=1")
    (tmp_path / docs.LOWEST_VERSIONS).parent.mkdir()
    (tmp_path / docs.LOWEST_VERSIONS).write_text(json.dumps({"fastdb": {
        "version": "2.1", "outcome": "passed", "python": "3.11.7", "date": "2026-01-02"}}))

    rows = [line for line in docs.expected(tmp_path).splitlines() if line.startswith("| `")]
    assert rows == [
        "| `fastdb` | `fastdb-client` | >=2.1,<3 | call `fastdb.connect` | CLIENT `{operation}` "
        "| a \\| b | x.duration (s) | - | 2.1: passed (Python 3.11.7, 2026-01-02) |",
        "| `slowdb` | `slowdb` | >=1 | call `slowdb.connect` | CLIENT `{operation}` | a \\| b "
        "| x.duration (s) | - | not run |",
        "| `sqlite3` | standard library | Python >=3.10 | call `sqlite3.connect` "
        "| CLIENT `{operation}` | a \\| b | x.duration (s) | - | n/a (standard library) |",
    ]


def test_check_fails_on_a_stale_document_until_it_is_regenerated(tmp_path: Path):
    _library(tmp_path, "fastdb", "fastdb-client", ">=2.1,<3")
    check = [sys.executable, "-m", "hatch_otel.docs", "--check", "--root", str(tmp_path)]

    missing = subprocess.run(check, capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 1
    assert "run `python -m hatch_otel.docs`" in missing.stderr
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert subprocess.run(check, capture_output=True, cwd=REPO).returncode == 0

    _library(tmp_path, "newlib", "newlib", ">=1")  # a library added without regenerating
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert "| `newlib` |" in (tmp_path / docs.DOCUMENT).read_text()
