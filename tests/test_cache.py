"""The content-hash caches and parallel weaving: same results, less work the second time."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hatch_otel import reuse, weave
from hatch_otel.analyse import ProjectFile
from hatch_otel.bundle import RUNTIME_DEPENDENCIES, write_bundle
from hatch_otel.cache import NO_CACHE, Cache, default_directory
from hatch_otel.config import Config, load
from hatch_otel.display import summary
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
    packs = {p.name: p.read_bytes() for p in (tmp_path / "cache").rglob("*.json")}
    assert set(packs) == {"scan.json", "weave.json"}
    warm = run(project, load({}, project.root), cache=cache)
    assert _fingerprint(warm) == _fingerprint(cold) != []
    assert {p.name: p.read_bytes() for p in (tmp_path / "cache").rglob("*.json")} == packs


def test_entries_are_read_back_and_a_changed_file_is_a_new_key(tmp_path: Path) -> None:
    project, cache = _project(tmp_path / "p", modules=1), Cache(tmp_path / "cache")
    run(project, load({}, project.root), cache=cache)
    pack = tmp_path / "cache" / "weave.json"
    entries = json.loads(pack.read_text())
    for data in entries.values():
        if data.get("source") and "app0" in json.dumps(data["sites"]):
            data["source"] = data["source"].replace("view0", "served_from_cache")
    pack.write_text(json.dumps(entries))
    again = run(project, load({}, project.root), cache=cache)
    [app] = [w for w in again.woven if w.module.module == "shop.app0"]
    assert b"served_from_cache" in app.woven
    (project.root / "shop/app0.py").write_text(APP + "# changed\n")
    changed = run(project, load({}, project.root), cache=cache)
    [app] = [w for w in changed.woven if w.module.module == "shop.app0"]
    assert b"served_from_cache" not in app.woven and app.woven.endswith(b"# changed\n")
    assert len(json.loads(pack.read_text())) == 2  # this build's: the package init and app0


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


# -- the whole build reused (reuse.py) ------------------------------------------------------------
def _contents_writer(project: Project, config: Config, calls: list[Path]
                     ) -> Callable[[Path], reuse.Contents]:
    """What the hook writes on a cold build, counting the cold builds."""
    def write(directory: Path) -> reuse.Contents:
        calls.append(directory)
        outcome = run(project, config)
        return reuse.Contents(write_bundle(outcome, directory), RUNTIME_DEPENDENCIES,
                              tuple(summary(outcome)), ())
    return write


def test_an_unchanged_project_reuses_its_stored_build(tmp_path: Path) -> None:
    project, cache, cold_builds = _project(tmp_path / "p"), Cache(tmp_path / "cache"), []
    config = load({}, project.root)
    key = reuse.build_key(project, config, cache)
    assert reuse.reuse(cache, key) is None
    first = reuse.build(cache, key, _contents_writer(project, config, cold_builds))
    assert reuse.build_key(project, config, cache) == key
    again = reuse.reuse(cache, key)
    assert again is not None and len(cold_builds) == 1
    assert again.files == first.files and not again.temporary
    assert again.info == first.info and "wove 4 file(s)" in again.info[0]
    woven = {target: Path(path).read_bytes() for path, target in again.files.items()}
    assert b"_hatch_otel.at(" in woven["shop/app0.py"]
    assert "shop/_otel/manifest.json" in woven


@pytest.mark.parametrize("change", [
    "edit a source", "add a source", "add a data file", "dependencies", "configuration",
    "an included requirements file"])
def test_whatever_the_outcome_depends_on_changes_the_key(tmp_path: Path, change: str) -> None:
    project = _project(tmp_path / "p")
    (project.root / "requirements.txt").write_text("-r base.txt\n")
    (project.root / "base.txt").write_text("flask==3.1.0\n")
    config = load({}, project.root)
    before = reuse.build_key(project, config, NO_CACHE)
    if change == "edit a source":
        (project.root / "shop/plain.py").write_text("X = 2\n")
    elif change == "add a source":
        (project.root / "shop/more.py").write_text("")
        project = dataclasses.replace(project, files=(
            *project.files, ProjectFile(project.root / "shop/more.py", "shop/more.py")))
    elif change == "add a data file":
        project = dataclasses.replace(project, files=(
            *project.files, ProjectFile(project.root / "README.md", "shop/README.md")))
    elif change == "dependencies":
        project = dataclasses.replace(project, dependencies=("flask>=3", "requests"))
    elif change == "configuration":
        config = load({"exclude": ["shop/app1.py"]}, project.root)
    else:
        (project.root / "base.txt").write_text("flask==3.1.1\n")
    assert reuse.build_key(project, config, NO_CACHE) != before


def test_the_key_is_found_from_the_sources_stat_once_they_have_settled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, cache = _project(tmp_path / "p"), Cache(tmp_path / "cache")
    config = load({}, project.root)
    key = reuse.build_key(project, config, cache)
    assert not (tmp_path / "cache" / "keys").exists()  # just written: the stat is not trusted
    monkeypatch.setattr(reuse, "SETTLED_SECONDS", 0)
    assert reuse.build_key(project, config, cache) == key
    [recorded] = (tmp_path / "cache" / "keys").rglob("*.json")
    assert json.loads(recorded.read_text()) == key
    assert reuse.build_key(project, config, cache) == key
    # the same size and modification time, other bytes: the change time still tells
    source = project.root / "shop/plain.py"
    before = source.stat()
    source.write_bytes(source.read_bytes().replace(b"1", b"2"))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert source.stat().st_size == before.st_size
    assert reuse.build_key(project, config, cache) != key
    assert reuse.build_key(project, config, NO_CACHE) != key


def test_a_stored_build_missing_a_file_is_built_again(tmp_path: Path) -> None:
    project, cache, cold_builds = _project(tmp_path / "p"), Cache(tmp_path / "cache"), []
    config = load({}, project.root)
    key = reuse.build_key(project, config, cache)
    stored = reuse.build(cache, key, _contents_writer(project, config, cold_builds))
    Path(next(iter(stored.files))).unlink()
    assert reuse.reuse(cache, key) is None
    rebuilt = reuse.build(cache, key, _contents_writer(project, config, cold_builds))
    assert len(cold_builds) == 2 and all(Path(path).is_file() for path in rebuilt.files)


def test_without_a_usable_cache_the_build_is_written_to_a_temporary_folder(
        tmp_path: Path) -> None:
    project, cold_builds = _project(tmp_path / "p"), []
    config = load({}, project.root)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    for cache in (NO_CACHE, Cache(blocked)):
        built = reuse.build(cache, reuse.build_key(project, config, cache),
                            _contents_writer(project, config, cold_builds))
        assert built.temporary and all(Path(p).is_relative_to(built.directory)
                                       for p in built.files)
        assert not built.directory.is_relative_to(tmp_path)
        shutil.rmtree(built.directory)


def test_only_the_most_recently_used_builds_are_kept(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reuse, "KEPT_BUILDS", 2)
    cache, cold_builds, keys = Cache(tmp_path / "cache"), [], []
    for version in range(3):
        project = _project(tmp_path / f"p{version}")
        config = load({}, project.root)
        keys.append(reuse.build_key(project, config, cache))
        reuse.build(cache, keys[-1], _contents_writer(project, config, cold_builds))
        time.sleep(0.01)  # distinct modification times
    kept = {p.name for p in (tmp_path / "cache" / "builds").iterdir()}
    assert kept == set(keys[1:])
