"""Planning: which rules apply, and the reason printed for every one that does not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from hatch_otel.analyse import ProjectFile, analyse
from hatch_otel.config import Config
from hatch_otel.errors import ConfigError
from hatch_otel.plan import Decision, make_plan, may_overlap
from hatch_otel.rules import load_library

PYTHON = ".".join(map(str, sys.version_info[:3]))


@pytest.fixture
def library(tmp_path: Path):
    root = tmp_path / "hook_library"
    for name, distribution, versions in [("flask", "flask", ">=2.2,<4"),
                                         ("redis", "redis", ">=4"),
                                         ("requests", "requests", ">=2.20"),
                                         ("celery", "celery", ">=5")]:
        (root / name).mkdir(parents=True)
        (root / name / "rules.toml").write_text(
            f'name = "{name}"\ndistribution = "{distribution}"\nversions = "{versions}"\n'
            f'[[rules]]\nid = "{name}.x"\njoin-point = "call"\ntarget = "{name}.X"\n')
    (root / "sqlite3").mkdir()
    (root / "sqlite3" / "rules.toml").write_text(
        'name = "sqlite3"\nversions = ">=3.8"\n[[rules]]\nid = "sqlite3.connect"\n'
        'join-point = "call"\ntarget = "sqlite3.connect"\n')
    (root / "future").mkdir()
    (root / "future" / "rules.toml").write_text(
        'name = "future"\npython = ">=4"\nmodules = ["json"]\n[[rules]]\nid = "future.x"\n'
        'join-point = "import"\ntarget = "json"\n')
    return load_library(root)


def decisions(tmp_path: Path, library, sources: dict[str, str], dependencies=(),
              lock: str | None = None, config: Config | None = None) -> dict[str, Decision]:
    project = tmp_path / "project"
    files = []
    for relative, text in sources.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(ProjectFile(path, relative))
    if lock:
        (project / "uv.lock").write_text(lock)
    analysis = analyse(project, "shop", dependencies, {}, files)
    plan = make_plan(analysis, library, config or Config())
    return {d.library: d for d in plan.decisions}


def test_every_library_gets_a_decision_with_its_reason(tmp_path: Path, library) -> None:
    lock = ('[[package]]\nname = "redis"\nversion = "3.5.3"\n'
            '[[package]]\nname = "requests"\nversion = "2.32.3"\n')
    found = decisions(tmp_path, library, {
        "shop/__init__.py": "import sqlite3, json\nimport celery\n",
    }, dependencies=["flask>=3", "redis", "requests"], lock=lock,
        config=Config(disable=frozenset({"celery"})))
    assert found["flask"] == Decision("flask", ">=3 (declared)", True,
                                      "declared >=3, which admits versions in <4,>=2.2",
                                      ("flask.x",))
    assert (found["redis"].selected, found["redis"].version, found["redis"].reason) == (
        False, "3.5.3 (uv.lock)", "version 3.5.3 is outside the supported range >=4")
    assert (found["requests"].selected, found["requests"].reason) == (
        True, "locked at 2.32.3, in >=2.20")
    assert (found["celery"].selected, found["celery"].reason) == (
        False, "disabled by configuration (tool.hatch.build.targets.wheel.hooks.otel.disable)")
    assert found["sqlite3"].selected
    assert found["sqlite3"].version == f"Python {PYTHON}"
    assert (found["future"].selected, found["future"].reason) == (
        False, f"needs Python >=4, building with {PYTHON}")


def test_unused_undeclared_and_out_of_range_libraries(tmp_path: Path, library) -> None:
    found = decisions(tmp_path, library, {"shop/__init__.py": "import redis\n"},
                      dependencies=["flask<2"])
    assert found["flask"].reason == ("declared <2 admits no version in the supported range "
                                     "<4,>=2.2")
    assert not found["flask"].selected
    assert found["redis"].selected and found["redis"].version == "unknown"
    assert "imported but neither declared nor locked" in found["redis"].reason
    assert found["requests"].reason == "not used by the project (not declared, locked or imported)"
    assert found["sqlite3"].reason == "not imported by the project"


@pytest.mark.parametrize(("declared", "supported", "expected"), [
    ("", ">=2", True), (">=2.0", ">=2.2,<4", True), ("<2", ">=2.2,<4", False),
    ("==2.*", ">=2.2,<4", True), ("~=3.0", ">=2.2,<4", True), (">2.5", "<2.6", True),
    (">=4", ">=2.2,<4", False), ("==1.9", ">=2", False), (">2.5.9", "<2.6", True),
])
def test_may_overlap(declared: str, supported: str, expected: bool) -> None:
    assert may_overlap(SpecifierSet(declared), SpecifierSet(supported)) is expected


def test_the_runtime_lives_in_the_projects_package(tmp_path: Path, library) -> None:
    project = tmp_path / "p"
    (project / "shop").mkdir(parents=True)
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "__main__.py").write_text("")
    (project / "tool.py").write_text("")
    files = [ProjectFile(project / p, p) for p in ("shop/__init__.py", "shop/__main__.py",
                                                  "tool.py")]
    plan = make_plan(analyse(project, "shop", [], {}, files), library, Config(),
                     scripts=["shop.cli:main"])
    assert plan.runtime_package == "shop._otel"
    assert plan.bootstrap_modules == {"shop", "shop.__main__", "tool", "shop.cli"}


def test_a_malformed_rule_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "rules.toml").write_text(
        'name = "bad"\nversions = "2.x"\n[[rules]]\nid = "bad.x"\njoin-point = "around"\n')
    with pytest.raises(ConfigError) as caught:
        load_library(tmp_path)
    assert caught.value.problems == [
        "hook_library/bad/rules.toml: rules[0].join-point: must be one of call, function, "
        "import",
        "hook_library/bad/rules.toml: versions: '2.x' is not a PEP 440 version range "
        "(e.g. '>=2.2,<4')",
    ]


def test_the_bundled_hook_library_loads_and_every_rule_names_existing_hooks() -> None:
    for lib in load_library():
        assert lib.description, lib.name
        if lib.distribution is not None:
            assert lib.versions, f"{lib.name}: a distribution needs a supported version range"
        hooks = lib.hooks_file.read_text() if lib.hooks_file else ""
        for rule in lib.rules:
            for ref in (rule.before, rule.after):
                if ref is not None:
                    assert f"def {ref.rsplit(':', 1)[1]}(" in hooks, (lib.name, ref)


def test_exclude_and_disable_keep_files_and_libraries_unwoven(tmp_path: Path) -> None:
    from hatch_otel.config import load
    from hatch_otel.pipeline import Project, run

    sources = {"shop/__init__.py": "", "shop/app.py": "import sqlite3\ndb = sqlite3.connect('a')\n",
               "shop/migrations/m0001.py": "import sqlite3\ndb = sqlite3.connect('b')\n",
               "shop/web.py": "from flask import Flask\napp = Flask(__name__)\n"}
    files = []
    for relative, text in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(ProjectFile(path, relative))
    outcome = run(Project(tmp_path, "shop", tuple(files), dependencies=("flask",)),
                  load({"exclude": ["shop/migrations/**"], "disable": ["flask"]}, tmp_path))
    woven = {w.module.module: w.woven.decode() for w in outcome.woven}
    assert "_hatch_otel.at(\"sqlite3.connect\"" in woven["shop.app"]
    assert "shop.migrations.m0001" not in woven
    assert "_hatch_otel.at" not in woven.get("shop.web", "")
    flask = next(d for d in outcome.plan.decisions if d.library == "flask")
    assert (flask.selected, flask.reason) == (
        False, "disabled by configuration (tool.hatch.build.targets.wheel.hooks.otel.disable)")
