"""`hatch-otel plan`, `diff` and `check` on real projects: the sample and small ones written here.

Every test reads the project through hatchling, as a wheel build does; the expected lines are
the exact text a user sees.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hatch_otel.cli import main
from hatch_otel.pipeline import run
from hatch_otel.project import load_project

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_project"
TABLE = "tool.hatch.build.targets.wheel.hooks.otel"
PYTHON = f"Python {platform.python_version()}"

DB_MODULE = """\
import sqlite3


def traced():
    return sqlite3.connect(":memory:")


def untraced():
    return sqlite3.connect(":memory:")  # otel: ignore
"""
BROKEN = "def broken(:\n    import sqlite3\n"
"""A file that does not parse, and that names an instrumented library (so a build parses it)."""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample project, so nothing a test does reaches the checkout."""
    return Path(
        shutil.copytree(SAMPLE, tmp_path / "greeter", ignore=shutil.ignore_patterns("__pycache__"))
    )


def make_project(root: Path, files: dict[str, str], table: str = "") -> Path:
    """A project `shop` with `files` under src/, and `table` as the body of its otel table."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1.0"\n\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/shop"]\n\n'
        f"[{TABLE}]\n{table}",
        encoding="utf-8",
    )
    for name, text in {"shop/__init__.py": '"""The shop."""\n', **files}.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rows(text: str) -> list[list[str]]:
    """The plan's table rows, cells split where the columns are (two spaces or more)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


# -- plan ---------------------------------------------------------------------------------------


def test_plan_lists_every_decision_and_site_of_the_sample(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "plan", str(sample))

    assert (code, err) == (0, "")
    assert out.startswith("hatch-otel ")
    assert ": greeter would weave 3 file(s), 6 site(s); runtime in greeter._otel\n" in out
    table = {row[0]: row for row in rows(out)}
    assert table["library"] == ["library", "version", "rules", "status", "reason"]
    assert table["flask"][:4] == ["flask", ">=3 (declared)", "1", "applied"]
    assert table["flask"][4].startswith("declared >=3, which admits versions in ")
    for library in ("sqlite3", "urllib"):
        assert table[library][1:4] == [PYTHON, "1", "applied"]
        assert table[library][4].startswith("imported from the standard library; ")
    assert table["http.server"][1:] == [PYTHON, "2", "skipped", "not imported by the project"]
    assert table["wsgiref"][1:] == [PYTHON, "1", "skipped", "not imported by the project"]

    app = sample / "src/greeter/app.py"
    assert table["site"] == ["site", "join point", "rule", "target"]
    assert table[f"greeter/app.py:{line_of(app, 'app = Flask(__name__)')}"] == [
        f"greeter/app.py:{line_of(app, 'app = Flask(__name__)')}",
        "call",
        "flask.app",
        "flask.Flask",
    ]
    sites = [row for row in rows(out) if row[0].startswith("greeter/")]
    assert [row[2] for row in sites] == [
        "bootstrap", "bootstrap", "bootstrap", "flask.app", "urllib.urlopen", "sqlite3.connect",
    ]  # fmt: skip
    assert "kept unwoven" not in out
    assert "warnings:" not in out
    assert "\033[" not in out  # captured output is no terminal


def test_plan_shows_sites_kept_by_otel_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", {"shop/db.py": DB_MODULE})

    code, out, _ = cli(capsys, "plan", str(project))

    assert code == 0
    woven, ignored = out.split("kept unwoven by `# otel: ignore`:\n")
    assert ["shop/db.py:5", "call", "sqlite3.connect", "sqlite3.connect"] in rows(woven)
    assert rows(ignored) == [
        ["site", "join point", "rule", "target"],
        ["shop/db.py:9", "call", "sqlite3.connect", "sqlite3.connect"],
    ]


def test_plan_warns_when_the_weaver_adds_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", {"shop/__init__.py": "if True:\n    pass\n"})

    code, out, _ = cli(capsys, "plan", str(project))

    assert code == 0
    assert out.endswith(
        "\nwarnings:\n  ! shop/__init__.py:1: a line was added for shop._otel (no free line "
        "above it); later lines of this file move down by one\n"
    )


def test_plan_json_is_one_document_with_a_stable_shape(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "plan", "--json", str(sample))
    assert (code, err) == (0, "")
    assert cli(capsys, "plan", "--json", str(sample))[1] == out  # byte for byte the same

    document = json.loads(out)
    assert list(document) == [
        "project", "runtime_package", "decisions", "sites", "ignored", "warnings",
    ]  # fmt: skip
    assert document["project"] == "greeter"
    assert document["runtime_package"] == "greeter._otel"
    decisions = {d["library"]: d for d in document["decisions"]}
    assert list(decisions["http.server"]) == ["library", "version", "status", "reason", "rules"]
    assert decisions["http.server"] == {
        "library": "http.server",
        "version": PYTHON,
        "status": "skipped",
        "reason": "not imported by the project",
        "rules": ["http.server.HTTPServer", "http.server.ThreadingHTTPServer"],
    }
    applied = {name for name, d in decisions.items() if d["status"] == "applied"}
    assert {"flask", "sqlite3", "urllib"} <= applied
    assert {"http.server", "wsgiref", "django", "redis"}.isdisjoint(applied)
    line = line_of(sample / "src/greeter/app.py", "app = Flask(__name__)")
    assert {
        "path": "greeter/app.py",
        "line": line,
        "join_point": "call",
        "rule": "flask.app",
        "target": "flask.Flask",
        "added_line": False,
    } in document["sites"]
    assert len(document["sites"]) == 6
    assert (document["ignored"], document["warnings"]) == ([], [])


def test_plan_json_lists_ignored_sites_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        tmp_path / "shop",
        {"shop/db.py": DB_MODULE, "shop/broken.py": BROKEN},
        "strict = false\n",
    )

    code, out, _ = cli(capsys, "plan", "--json", str(project))

    document = json.loads(out)
    assert code == 0
    assert document["ignored"] == [
        {
            "path": "shop/db.py",
            "line": 9,
            "join_point": "call",
            "rule": "sqlite3.connect",
            "target": "sqlite3.connect",
            "added_line": False,
        }
    ]
    assert document["warnings"] == [
        "src/shop/broken.py:1:12: invalid syntax (shipped unwoven: strict = false)"
    ]


def test_plan_as_a_real_process(sample: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NO_COLOR", None)  # no colour all the same: stdout is a pipe

    done = subprocess.run(
        [sys.executable, "-m", "hatch_otel", "plan"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )

    assert (done.returncode, done.stderr) == (0, "")
    table = {row[0]: row for row in rows(done.stdout)}
    assert table["flask"][:4] == ["flask", ">=3 (declared)", "1", "applied"]
    assert table["wsgiref"] == ["wsgiref", PYTHON, "1", "skipped", "not imported by the project"]
    assert "\033[" not in done.stdout


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    """What the command writes to a stdout that is a terminal."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(list(argv)) == 0
    return terminal.getvalue()


def test_colour_only_on_a_terminal_without_no_color(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    plan = on_terminal(monkeypatch, "plan", str(sample))
    assert "\033[32mapplied\033[0m  " in plan
    assert "\033[33mskipped\033[0m  not imported by the project" in plan

    diff = on_terminal(monkeypatch, "diff", str(sample))
    assert "\033[1m--- a/greeter/app.py\033[0m\n" in diff
    assert "\033[31m-app = Flask(__name__)\033[0m\n" in diff
    assert '\033[32m+app = _hatch_otel.at("flask.app", Flask)(__name__)\033[0m\n' in diff

    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in on_terminal(monkeypatch, "plan", str(sample))
    assert "\033[" not in on_terminal(monkeypatch, "diff", str(sample))


# -- diff ---------------------------------------------------------------------------------------


def apply_patch(diff: str, originals: dict[str, bytes], where: Path) -> dict[str, bytes]:
    """Lay the originals out by wheel path, let `patch -p1` apply the diff, read them back."""
    if shutil.which("patch") is None:
        pytest.skip("needs the patch program")
    for path, data in originals.items():
        (where / path).parent.mkdir(parents=True, exist_ok=True)
        (where / path).write_bytes(data)
    subprocess.run(
        ["patch", "-p1", "--quiet", "--batch"], input=diff.encode(), cwd=where, check=True
    )
    return {path: (where / path).read_bytes() for path in originals}


def test_diff_shows_the_woven_lines_and_applies_cleanly(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "diff", str(sample))

    assert (code, err) == (0, "")
    assert "--- a/greeter/app.py\n+++ b/greeter/app.py\n" in out
    assert '\n-app = Flask(__name__)\n+app = _hatch_otel.at("flask.app", Flask)(__name__)\n' in out
    outcome = run(*load_project(sample))
    paths = [w.module.file.distribution_path for w in outcome.woven]
    assert re.findall(r"^\+\+\+ b/(.*)$", out, re.MULTILINE) == paths
    patched = apply_patch(
        out, {w.module.file.distribution_path: w.original for w in outcome.woven}, tmp_path / "p"
    )
    assert patched == {w.module.file.distribution_path: w.woven for w in outcome.woven}


def test_diff_of_a_file_without_final_newline_and_with_form_feeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = 'import sqlite3\n\x0c\ndb = sqlite3.connect(":memory:")'
    project = make_project(tmp_path / "shop", {"shop/db.py": source})

    code, out, _ = cli(capsys, "diff", str(project))

    assert code == 0
    assert out.endswith(
        '-db = sqlite3.connect(":memory:")\n\\ No newline at end of file\n'
        '+db = _hatch_otel.at("sqlite3.connect", sqlite3.connect)(":memory:")\n'
        "\\ No newline at end of file\n"
    )
    woven = {w.module.file.distribution_path: w for w in run(*load_project(project)).woven}
    patched = apply_patch(out, {p: w.original for p, w in woven.items()}, tmp_path / "p")
    assert patched == {p: w.woven for p, w in woven.items()}


def test_diff_prints_nothing_when_nothing_is_woven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", {"shop/db.py": DB_MODULE}, 'exclude = ["*"]\n')

    assert cli(capsys, "diff", str(project)) == (0, "", "")


# -- check --------------------------------------------------------------------------------------


def test_check_ok_counts_rules_and_sites(
    sample: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sample)  # PATH defaults to the current directory

    outcome = run(*load_project(sample))
    rules = len(outcome.plan.rules)
    assert cli(capsys, "check") == (0, f"ok: {rules} rules, 6 weave sites\n", "")


def test_check_reports_every_problem_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        tmp_path / "shop",
        {
            "shop/db.py": DB_MODULE,
            "shop/broken.py": BROKEN,
            "shop/also.py": "import sqlite3\nif x\n",
        },
        'colour = true\nrules = ["missing.toml", "extra.toml"]\n\n'
        f'[[{TABLE}.trace]]\nfunction = "shop.db:traced"\n\n'
        f'[[{TABLE}.trace]]\nfunction = "shop.db:untraced"\nrecordexception = true\n\n'
        f'[[{TABLE}.trace]]\nfunction = "shop.db:*"\nkind = "bogus"\n\n'
        f'[[{TABLE}.hook]]\ntarget = "shop.db"\n',
    )
    (project / "extra.toml").write_text('[[trace]]\nfunction = "shop.db:traced"\nspan-name = 3\n')

    code, out, err = cli(capsys, "check", str(project))

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"hatch-otel: {TABLE}.colour: unknown option; the otel hook understands disable, "
        "exclude, hook, rules, strict, trace",
        f"hatch-otel: {TABLE}.rules: cannot read 'missing.toml': No such file or directory",
        f"hatch-otel: {TABLE}.trace[1].recordexception: unknown key; expected one of attributes, "
        "function, kind, optional, record-exception, record-return, span-name",
        f"hatch-otel: {TABLE}.trace[2].kind: must be one of internal, server, client, producer, "
        "consumer, not 'bogus'",
        "hatch-otel: extra.toml: trace[0].span-name: must be a non-empty string, not 3",
        f"hatch-otel: {TABLE}.hook[0].target: 'shop.db' must be 'module:qualified.name'",
        "hatch-otel: src/shop/also.py:2:5: expected ':'",
        "hatch-otel: src/shop/broken.py:1:12: invalid syntax",
        "hatch-otel: files that do not parse cannot be woven: fix them, or set "
        "`strict = false` in the otel hook table to ship them unwoven",
    ]


def test_check_reports_rules_that_match_nothing_with_the_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(
        tmp_path / "shop",
        {"shop/db.py": DB_MODULE, "shop/broken.py": BROKEN},
        f'[[{TABLE}.trace]]\nfunction = "shop.db:nothing"\n',
    )

    code, out, err = cli(capsys, "check", str(project))

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"hatch-otel: {TABLE}.trace[0]: `shop.db:nothing` matched no function of the project; "
        "fix the pattern (module:qualified.name, globs allowed) or set `optional = true`",
        "hatch-otel: src/shop/broken.py:1:12: invalid syntax",
        "hatch-otel: files that do not parse cannot be woven: fix them, or set "
        "`strict = false` in the otel hook table to ship them unwoven",
    ]


SOURCES = {"shop/db.py": DB_MODULE, "shop/broken.py": BROKEN}


def test_a_file_that_does_not_parse_fails_a_strict_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", {**SOURCES, "shop/also.py": "import sqlite3\nif x\n"})

    assert cli(capsys, "check", str(project)) == (
        1,
        "",
        "hatch-otel: src/shop/also.py:2:5: expected ':'\n"
        "hatch-otel: src/shop/broken.py:1:12: invalid syntax\n"
        "hatch-otel: files that do not parse cannot be woven: fix them, or set "
        "`strict = false` in the otel hook table to ship them unwoven\n",
    )
    for command in ("plan", "diff"):
        assert cli(capsys, command, str(project)) == cli(capsys, "check", str(project))


def test_a_file_that_does_not_parse_is_a_warning_without_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", SOURCES, "strict = false\n")

    assert cli(capsys, "check", str(project)) == (
        0,
        "ok: 1 rules, 3 weave sites\n",
        "hatch-otel: warning: src/shop/broken.py:1:12: invalid syntax "
        "(shipped unwoven: strict = false)\n",
    )
    code, out, _ = cli(capsys, "plan", str(project))
    assert code == 0
    assert out.endswith(
        "\nwarnings:\n"
        "  ! src/shop/broken.py:1:12: invalid syntax (shipped unwoven: strict = false)\n"
    )


# -- what every command shares: PATH, errors, exit codes, help ---------------------------------


@pytest.mark.parametrize("command", ["plan", "diff", "check"])
def test_a_directory_without_pyproject(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, command, str(tmp_path)) == (
        1,
        "",
        f"hatch-otel: {tmp_path.resolve()}: no pyproject.toml here; give the project's directory\n",
    )


@pytest.mark.parametrize("command", ["plan", "diff", "check"])
def test_a_project_without_the_otel_table(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "shop", SOURCES)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f"[{TABLE}]\n", ""))

    assert cli(capsys, command, str(project)) == (
        1,
        "",
        f"hatch-otel: {pyproject.resolve()}: no otel hook table; add [{TABLE}] to instrument "
        "this project\n",
    )


@pytest.mark.parametrize(
    "argv", [[], ["frobnicate"], ["plan", "--bogus"], ["diff", "a", "b"], ["check", "--json"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("usage: hatch-otel")


def test_errors_are_lines_not_tracebacks_in_a_real_process(tmp_path: Path) -> None:
    project = make_project(tmp_path / "shop", SOURCES, f'[[{TABLE}.trace]]\nkind = "bogus"\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def hatch_otel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hatch_otel", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    checked = hatch_otel("check", str(project))
    assert (checked.returncode, checked.stdout) == (1, "")
    assert checked.stderr.splitlines() == [
        f"hatch-otel: {TABLE}.trace[0].function: is required",
        f"hatch-otel: {TABLE}.trace[0].kind: must be one of internal, server, client, producer, "
        "consumer, not 'bogus'",
        "hatch-otel: src/shop/broken.py:1:12: invalid syntax",
        "hatch-otel: files that do not parse cannot be woven: fix them, or set "
        "`strict = false` in the otel hook table to ship them unwoven",
    ]
    assert hatch_otel("plan", "--frobnicate").returncode == 2


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("plan", "instrumentation plan"),
        ("diff", "unified diff"),
        ("check", "report every problem at once"),
    ],
)
def test_every_command_has_help_with_the_exit_codes(
    command: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(f"usage: hatch-otel {command} [-h]")
    assert words in " ".join(out.split())
    assert "PATH" in out
    assert out.endswith(
        "exit codes:\n"
        "  0  success\n"
        "  1  the project's configuration or sources have errors (one line each on stderr)\n"
        "  2  usage error\n"
    )


def test_the_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    out = capsys.readouterr().out
    for command in ("plan", "diff", "check", "receive"):
        assert re.search(rf"^    {command} +\S", out, re.MULTILINE)
    assert "exit codes:\n" in out
