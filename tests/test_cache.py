"""The content-hash cache and parallel weaving: same results, less work the second time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatch_otel import weave
from hatch_otel.analyse import ProjectFile
from hatch_otel.cache import Cache, default_directory
from hatch_otel.config import load
from hatch_otel.pipeline import Project, run

APP = "from flask import Flask\nimport sqlite3\n\napp = Flask(__name__)\n\n\n" + "".join(
    f"def view{i}():\n    return sqlite3.connect(':memory:')\n\n\n" for i in range(40))


def _project(root: Path, modules: int = 3) -> Project:
    files = []
    for relative, text in [("shop/__init__.py", ""), ("shop/plain.py", "X = 1\n")] + [
            (f"shop/app{i}.py", APP) for i in range(modules)]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(ProjectFile(path, relative))
    return Project(root, "shop", tuple(files), dependencies=("flask>=3",))


def _fingerprint(outcome) -> list[tuple[str, bytes, tuple]]:
    return [(w.module.module, w.woven, w.result.sites) for w in outcome.woven]


def test_a_warm_cache_gives_the_same_outcome_and_writes_nothing_new(tmp_path: Path) -> None:
    project, cache = _project(tmp_path / "p"), Cache(tmp_path / "cache")
    cold = run(project, load({}, project.root), cache=cache)
    entries = sorted(p.relative_to(tmp_path) for p in (tmp_path / "cache").rglob("*.json"))
    assert {e.parts[1] for e in entries} == {"scan", "weave"}
    warm = run(project, load({}, project.root), cache=cache)
    assert _fingerprint(warm) == _fingerprint(cold) != []
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "cache").rglob("*.json")) == entries


def test_entries_are_read_back_and_a_changed_file_is_a_new_key(tmp_path: Path) -> None:
    project, cache = _project(tmp_path / "p", modules=1), Cache(tmp_path / "cache")
    run(project, load({}, project.root), cache=cache)
    for entry in (tmp_path / "cache" / "weave").rglob("*.json"):
        data = json.loads(entry.read_text())
        if data.get("source") and "app0" in json.dumps(data["sites"]):
            data["source"] = data["source"].replace("view0", "served_from_cache")
            entry.write_text(json.dumps(data))
    again = run(project, load({}, project.root), cache=cache)
    [app] = [w for w in again.woven if w.module.module == "shop.app0"]
    assert b"served_from_cache" in app.woven
    (project.root / "shop/app0.py").write_text(APP + "# changed\n")
    changed = run(project, load({}, project.root), cache=cache)
    [app] = [w for w in changed.woven if w.module.module == "shop.app0"]
    assert b"served_from_cache" not in app.woven and app.woven.endswith(b"# changed\n")


def test_a_corrupt_or_unwritable_cache_is_not_used(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", modules=1)
    expected = _fingerprint(run(project, load({}, project.root)))
    cache = Cache(tmp_path / "cache")
    run(project, load({}, project.root), cache=cache)
    for entry in (tmp_path / "cache").rglob("*.json"):
        entry.write_text("{not json")
    assert _fingerprint(run(project, load({}, project.root), cache=cache)) == expected
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert _fingerprint(run(project, load({}, project.root), cache=Cache(blocked))) == expected


def test_parallel_weaving_gives_the_serial_results(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path / "p", modules=6)
    serial = run(project, load({}, project.root))
    monkeypatch.setattr(weave, "PARALLEL_LINES", 0)
    monkeypatch.setenv("HATCH_OTEL_JOBS", "2")
    assert _fingerprint(run(project, load({}, project.root))) == _fingerprint(serial)


def test_the_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("HATCH_OTEL_CACHE_DIR", str(tmp_path))
    assert default_directory() == tmp_path
    monkeypatch.setenv("HATCH_OTEL_NO_CACHE", "1")
    assert default_directory() is None


def test_a_parallel_scan_gives_the_serial_analysis(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from hatch_otel import analyse

    project = _project(tmp_path / "p", modules=6)
    serial = run(project, load({}, project.root))
    monkeypatch.setattr(analyse, "PARALLEL_BYTES", 0)
    monkeypatch.setenv("HATCH_OTEL_JOBS", "2")
    parallel = run(project, load({}, project.root))
    assert parallel.analysis.modules == serial.analysis.modules
    assert _fingerprint(parallel) == _fingerprint(serial)
