"""Behaviour of phase 1 (analyse) on real project trees written to tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from textwrap import dedent

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from hatch_otel.analyse import Analysis, DeclaredDependency, ProjectFile, Watch, analyse
from hatch_otel.errors import ConfigError, SourceProblem


def write(root: Path, relative: str, text: str) -> Path:
    """Write a dedented file under root, creating directories."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def source(
    root: Path, distribution_path: str, text: str, on_disk: str | None = None
) -> ProjectFile:
    """A project source file; `on_disk` lets it live elsewhere (src layout)."""
    return ProjectFile(write(root, on_disk or distribution_path, text), distribution_path)


def run(
    root: Path,
    files: Sequence[ProjectFile] = (),
    dependencies: Sequence[str] = (),
    optional: Mapping[str, Sequence[str]] | None = None,
    name: str = "greeter",
) -> Analysis:
    return analyse(root, name, dependencies, optional or {}, files)


def versions(analysis: Analysis) -> dict[str, str]:
    return {name: str(locked.version) for name, locked in analysis.locked.items()}


def packaging_reason(text: str) -> str:
    """packaging's own first-line message, which differs between its versions."""
    with pytest.raises(InvalidRequirement) as caught:
        Requirement(text)
    return str(caught.value).partition("\n")[0]


# Lock files ------------------------------------------------------------------------------------


def test_pylock_toml_with_markers_and_default_groups(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pylock.toml",
        """\
        lock-version = "1.0"
        created-by = "test"
        default-groups = ["web"]

        [[packages]]
        name = "Flask"
        version = "3.0.3"

        [[packages]]
        name = "ancient"
        version = "1.0"
        marker = "python_version < '3'"

        [[packages]]
        name = "numpy"
        version = "1.26.4"
        marker = "python_version < '3.0'"

        [[packages]]
        name = "numpy"
        version = "2.1.0"
        marker = "python_version >= '3.0'"

        [[packages]]
        name = "gunicorn"
        version = "23.0.0"
        marker = "'web' in dependency_groups"

        [[packages]]
        name = "pytest"
        version = "8.3.0"
        marker = "'dev' in dependency_groups"

        [[packages]]
        name = "local-thing"
        directory = { path = "../local" }
        """,
    )
    analysis = run(tmp_path)
    assert analysis.lock_file == "pylock.toml"
    assert versions(analysis) == {"flask": "3.0.3", "numpy": "2.1.0", "gunicorn": "23.0.0"}
    assert analysis.locked["flask"].source == "pylock.toml"
    assert analysis.locked["flask"].version == Version("3.0.3")


def test_named_pylock_first_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "pylock.prod.toml", '[[packages]]\nname = "flask"\nversion = "2.0"\n')
    write(tmp_path, "pylock.dev.toml", '[[packages]]\nname = "flask"\nversion = "3.0"\n')
    analysis = run(tmp_path)
    assert analysis.lock_file == "pylock.dev.toml"
    assert versions(analysis) == {"flask": "3.0"}


def test_uv_lock_skips_the_project_and_workspace_members(tmp_path: Path) -> None:
    write(
        tmp_path,
        "uv.lock",
        """\
        version = 1
        requires-python = ">=3.10"

        [[package]]
        name = "greeter"
        version = "0.1.0"
        source = { editable = "." }

        [[package]]
        name = "tools"
        version = "0.0.1"
        source = { virtual = "tools" }

        [[package]]
        name = "member"
        version = "0.2.0"
        source = { editable = "packages/member" }

        [[package]]
        name = "requests"
        version = "2.32.3"
        source = { registry = "https://pypi.org/simple" }

        [[package]]
        name = "numpy"
        version = "1.24.4"
        source = { registry = "https://pypi.org/simple" }
        resolution-markers = ["python_full_version < '3'"]

        [[package]]
        name = "numpy"
        version = "2.1.0"
        source = { registry = "https://pypi.org/simple" }
        resolution-markers = ["python_full_version >= '3'"]
        """,
    )
    analysis = run(tmp_path)
    assert analysis.lock_file == "uv.lock"
    assert versions(analysis) == {"requests": "2.32.3", "numpy": "2.1.0"}
    assert analysis.locked["requests"].source == "uv.lock"


def test_uv_lock_skips_project_by_name_too(tmp_path: Path) -> None:
    write(tmp_path, "uv.lock", '[[package]]\nname = "Greeter"\nversion = "0.1"\n')
    assert run(tmp_path).locked == {}


def test_requirements_txt_in_pip_format(tmp_path: Path) -> None:
    write(
        tmp_path,
        "requirements.txt",
        """\
        # pinned by pip-compile
        --index-url https://pypi.org/simple
        -e .
        Flask==3.0.3 \\
            --hash=sha256:aaaa \\
            --hash=sha256:bbbb
            # via greeter
        requests[socks,security]==2.32.3  # a trailing comment
        ancient==1.0 ; python_version < "3"
        modern==2.0 ; python_version >= "3"
        ranged>=1.0
        wild==1.*
        ./vendor/local-pkg
        https://example.com/pkg-1.0.tar.gz
        -r base.txt
        """,
    )
    write(
        tmp_path,
        "base.txt",
        """\
        --requirement=nested/extra.txt
        urllib3===2.2.1
        flask==0.1
        """,
    )
    write(tmp_path, "nested/extra.txt", "-r ../requirements.txt\nidna==3.7\n")
    analysis = run(tmp_path)
    assert analysis.lock_file == "requirements.txt"
    assert versions(analysis) == {
        "flask": "3.0.3",
        "requests": "2.32.3",
        "modern": "2.0",
        "idna": "3.7",
        "urllib3": "2.2.1",
    }
    assert analysis.locked["idna"].source == "nested/extra.txt"
    assert analysis.locked["urllib3"].source == "base.txt"


def test_requirements_txt_preferred_over_other_requirement_files(tmp_path: Path) -> None:
    write(tmp_path, "requirements-dev.txt", "flask==1.0\n")
    write(tmp_path, "requirements.txt", "flask==2.0\n")
    assert run(tmp_path).lock_file == "requirements.txt"
    (tmp_path / "requirements.txt").unlink()
    write(tmp_path, "requirements-prod.txt", "flask==3.0\n")
    analysis = run(tmp_path)
    assert analysis.lock_file == "requirements-dev.txt"
    assert versions(analysis) == {"flask": "1.0"}


def test_lock_file_precedence(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask==1.0\n")
    assert run(tmp_path).lock_file == "requirements.txt"
    write(tmp_path, "uv.lock", '[[package]]\nname = "flask"\nversion = "2.0"\n')
    assert run(tmp_path).lock_file == "uv.lock"
    write(tmp_path, "pylock.other.toml", '[[packages]]\nname = "flask"\nversion = "3.0"\n')
    assert run(tmp_path).lock_file == "pylock.other.toml"
    write(tmp_path, "pylock.toml", '[[packages]]\nname = "flask"\nversion = "4.0"\n')
    analysis = run(tmp_path)
    assert analysis.lock_file == "pylock.toml"
    assert versions(analysis) == {"flask": "4.0"}


def test_no_lock_file(tmp_path: Path) -> None:
    analysis = run(tmp_path)
    assert analysis.lock_file is None
    assert analysis.locked == {}


def test_invalid_toml_names_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, "uv.lock", 'version = 1\n[[package]\nname = "x"\n')
    with pytest.raises(ConfigError) as caught:
        run(tmp_path)
    assert caught.value.problems == [
        "uv.lock:2:10: invalid TOML: Expected ']]' at the end of an array declaration; "
        "fix or regenerate the lock file"
    ]


def test_invalid_version_in_lock_file(tmp_path: Path) -> None:
    write(tmp_path, "pylock.toml", '[[packages]]\nname = "flask"\nversion = "three"\n')
    with pytest.raises(ConfigError) as caught:
        run(tmp_path)
    assert str(caught.value) == (
        "pylock.toml: packages[0]: invalid version 'three'; regenerate the lock file"
    )


def test_lock_entry_without_name(tmp_path: Path) -> None:
    write(tmp_path, "pylock.toml", '[[packages]]\nversion = "1.0"\n')
    with pytest.raises(ConfigError, match=r"^pylock.toml: packages\[0\]: `name` must be a string"):
        run(tmp_path)


def test_invalid_requirement_line(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask==3.0\n\nflask>>2\n")
    with pytest.raises(ConfigError) as caught:
        run(tmp_path)
    reason = packaging_reason("flask>>2")
    assert str(caught.value) == (
        f"requirements.txt:3: invalid requirement 'flask>>2': {reason}; fix the line"
    )


def test_missing_include(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask==3.0\n-r missing.txt\n")
    with pytest.raises(ConfigError) as caught:
        run(tmp_path)
    assert str(caught.value) == (
        "requirements.txt:2: included file 'missing.txt' does not exist; fix the -r line"
    )


# Declared dependencies -------------------------------------------------------------------------


def test_declared_dependencies_and_markers(tmp_path: Path) -> None:
    analysis = run(
        tmp_path,
        dependencies=["Flask>=2.3", "legacy ; python_version < '3'", "typing_extensions"],
        optional={
            "postgres": ["psycopg[binary]>=3 ; extra == 'postgres'"],
            "other": ["redis ; extra == 'postgres'"],
            "test": ["greeter[postgres]", "pytest>=8", "flask==3.0"],
        },
    )
    assert analysis.declared["flask"] == DeclaredDependency(
        "flask", SpecifierSet(">=2.3"), None, "Flask>=2.3"
    )
    assert analysis.declared["psycopg"].extra == "postgres"
    assert analysis.declared["pytest"].extra == "test"
    assert set(analysis.declared) == {"flask", "typing-extensions", "psycopg", "pytest"}
    assert [(d.name, d.extra) for d in analysis.excluded_by_marker] == [
        ("legacy", None),
        ("redis", "other"),
    ]


def test_invalid_requirements_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        run(
            tmp_path,
            dependencies=["flask", "requests", "flask>>2"],
            optional={"db": ["sqlalchemy", "psycopg["]},
        )
    assert caught.value.problems == [
        f"project.dependencies[2]: invalid requirement 'flask>>2': {packaging_reason('flask>>2')}"
        "; fix it in pyproject.toml using PEP 508 syntax, e.g. 'name>=1.0'",
        "project.optional-dependencies.db[1]: invalid requirement 'psycopg[': "
        f"{packaging_reason('psycopg[')}; fix it in pyproject.toml using PEP 508 syntax, "
        "e.g. 'name>=1.0'",
    ]


# Sources ---------------------------------------------------------------------------------------


def test_stdlib_detection(tmp_path: Path) -> None:
    files = [
        source(
            tmp_path,
            "greeter/server.py",
            """\
            import http.server
            import logging
            from wsgiref.simple_server import make_server
            from urllib.request import urlopen
            import sqlite3 as db
            import flask
            from . import views
            """,
        )
    ]
    analysis = run(tmp_path, files)
    assert analysis.stdlib_imports == {"http", "wsgiref", "urllib", "sqlite3", "logging"}
    assert analysis.imported_top_levels == analysis.stdlib_imports | {"flask", "greeter"}
    assert analysis.own_top_levels == {"greeter"}
    assert analysis.python_version == Version(".".join(map(str, sys.version_info[:3])))


def test_import_forms_and_relative_imports(tmp_path: Path) -> None:
    app = source(
        tmp_path,
        "greeter/web/app.py",
        """\
        import a.b
        import c as d, e.f as g
        from h.i import j, k as l
        from m import *
        from . import views
        from .models import User
        from .. import settings
        from ..core.db import session
        from ... import too_far
        """,
    )
    init = source(tmp_path, "greeter/web/__init__.py", "from . import app\nfrom .app import x\n")
    top = source(tmp_path, "script.py", "from . import nothing\nimport os\n")
    analysis = run(tmp_path, [app, init, top])
    by_module = {m.module: m for m in analysis.modules}
    assert by_module["greeter.web.app"].imports == {
        "a.b",
        "c",
        "e.f",
        "h.i",
        "h.i.j",
        "h.i.k",
        "m",
        "greeter.web",
        "greeter.web.views",
        "greeter.web.models",
        "greeter.web.models.User",
        "greeter",
        "greeter.settings",
        "greeter.core.db",
        "greeter.core.db.session",
    }
    assert by_module["greeter.web"].imports == {
        "greeter.web",
        "greeter.web.app",
        "greeter.web.app.x",
    }
    assert by_module["script"].imports == {"os"}


def test_imports_anywhere_in_the_tree_count(tmp_path: Path) -> None:
    file = source(
        tmp_path,
        "greeter/lazy.py",
        """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import redis
        try:
            import ujson as json
        except ImportError:
            import json
        else:
            import orjson
        finally:
            import atexit
        def f():
            import psycopg
            class Inner:
                def m(self):
                    from celery import Celery
        with open("x") as fh:
            import pika
        for _ in range(1):
            import kombu
        while False:
            import boto3
        match 1:
            case 1:
                import pymongo
        """,
    )
    (module,) = run(tmp_path, [file]).modules
    assert {n.split(".")[0] for n in module.imports} == {
        "typing",
        "redis",
        "ujson",
        "json",
        "orjson",
        "atexit",
        "psycopg",
        "celery",
        "pika",
        "kombu",
        "boto3",
        "pymongo",
    }


def test_dynamic_imports(tmp_path: Path) -> None:
    file = source(
        tmp_path,
        "greeter/plugins.py",
        """\
        import importlib
        from importlib import import_module

        def load(name):
            driver = importlib.import_module("psycopg2.extras")
            other = import_module(
                "redis",
            )
            legacy = __import__("pymysql")
            variable = importlib.import_module(name)
            relative = importlib.import_module(".sibling", __package__)
            return [driver, other, legacy, variable, relative, print("import_module")]
        """,
    )
    (module,) = run(tmp_path, [file]).modules
    assert module.imports == {
        "importlib",
        "importlib.import_module",
        "psycopg2.extras",
        "redis",
        "pymysql",
    }


def test_defines_are_qualnames(tmp_path: Path) -> None:
    file = source(
        tmp_path,
        "greeter/service.py",
        """\
        import functools

        def plain(): ...

        async def fetch():
            async def retry(): ...
            def helper():
                def deeper(): ...
            lam = lambda: None
            return lam

        class Service:
            def handle(self): ...
            async def ahandle(self): ...
            @property
            def name(self): ...
            @name.setter
            def name(self, value): ...
            class Nested:
                @staticmethod
                def make(): ...

        if True:
            def conditional(): ...
        """,
    )
    (module,) = run(tmp_path, [file]).modules
    assert module.defines == (
        "plain",
        "fetch",
        "fetch.<locals>.retry",
        "fetch.<locals>.helper",
        "fetch.<locals>.helper.<locals>.deeper",
        "Service.handle",
        "Service.ahandle",
        "Service.name",
        "Service.Nested.make",
        "conditional",
    )


def test_syntax_errors_are_problems_and_other_files_still_scanned(tmp_path: Path) -> None:
    broken = source(
        tmp_path, "greeter/broken.py", "import os\nx = (1,\n", on_disk="src/greeter/broken.py"
    )
    good = source(tmp_path, "greeter/good.py", "import json\n", on_disk="src/greeter/good.py")
    analysis = run(tmp_path, [broken, good])
    assert analysis.problems == (
        SourceProblem("src/greeter/broken.py", 2, 5, "'(' was never closed"),
    )
    assert [m.module for m in analysis.modules] == ["greeter.good"]
    assert str(analysis.problems[0]) == "src/greeter/broken.py:2:5: '(' was never closed"


def test_encoding_declaration_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "greeter" / "latin.py"
    path.parent.mkdir()
    path.write_bytes(b"# -*- coding: latin-1 -*-\nimport json\nname = '\xe9'\n")
    analysis = run(tmp_path, [ProjectFile(path, "greeter/latin.py")])
    assert analysis.problems == ()
    assert analysis.modules[0].imports == {"json"}


def test_module_names_and_order(tmp_path: Path) -> None:
    files = [
        source(tmp_path, "greeter/web/views.py", "", on_disk="src/greeter/web/views.py"),
        source(tmp_path, "greeter/__init__.py", "", on_disk="src/greeter/__init__.py"),
        source(tmp_path, "greeter/__main__.py", "", on_disk="src/greeter/__main__.py"),
        source(tmp_path, "greeter/web/__init__.py", "", on_disk="src/greeter/web/__init__.py"),
        ProjectFile(write(tmp_path, "src/greeter/data.json", "{}"), "greeter/data.json"),
        ProjectFile(write(tmp_path, "src/greeter/stub.pyi", ""), "greeter/stub.pyi"),
    ]
    analysis = run(tmp_path, files)
    assert [(m.file.distribution_path, m.module, m.is_package_init) for m in analysis.modules] == [
        ("greeter/__init__.py", "greeter", True),
        ("greeter/__main__.py", "greeter.__main__", False),
        ("greeter/web/__init__.py", "greeter.web", True),
        ("greeter/web/views.py", "greeter.web.views", False),
    ]
    assert analysis.modules[0].file.path == tmp_path / "src" / "greeter" / "__init__.py"


def test_imports_module_semantics(tmp_path: Path) -> None:
    web = source(
        tmp_path,
        "greeter/web.py",
        "from flask import Flask\nfrom urllib.request import urlopen\nimport urllib\n",
    )
    db = source(tmp_path, "greeter/db.py", "import sqlalchemy.orm\nimport flask_sqlalchemy\n")
    analysis = run(tmp_path, [web, db])
    assert analysis.imports_module("flask")
    assert analysis.imports_module("flask.Flask")
    assert analysis.imports_module("urllib")
    assert analysis.imports_module("urllib.request")
    assert analysis.imports_module("urllib.request.urlopen")
    assert analysis.imports_module("sqlalchemy")
    assert analysis.imports_module("sqlalchemy.orm")
    assert not analysis.imports_module("sqlalchemy.engine")
    assert not analysis.imports_module("urllib.parse")
    assert not analysis.imports_module("flask.json")
    assert not analysis.imports_module("fla")
    assert [m.module for m in analysis.modules_importing("flask")] == ["greeter.web"]
    assert [m.module for m in analysis.modules_importing("flask_sqlalchemy")] == ["greeter.db"]
    assert analysis.modules_importing("requests") == ()


WATCH = Watch(frozenset({"sqlite3", "flask"}), ("greeter.jobs",))


def test_a_watch_parses_only_the_sources_that_may_matter(tmp_path: Path) -> None:
    files = [
        source(tmp_path, "greeter/db.py", "import sqlite3\n"),
        source(tmp_path, "greeter/noted.py", "import os  # not sqlite3\n"),
        source(tmp_path, "greeter/joined.py", "import os, \\\n    sqlite3\n"),
        source(tmp_path, "greeter/back.py", "from \\\n  flask import Flask\n"),
        source(tmp_path, "greeter/old_mac.py", "import os\rfrom \\\rflask import Flask\r"),
        source(tmp_path, "greeter/late.py", "import importlib\nimportlib.import_module(\n"
               "    'flask')\n"),
        source(tmp_path, "greeter/jobs.py", "def run():\n    pass\n"),
        source(tmp_path, "greeter/wide.py", "import \uff46lask\n"),  # NFKC: `import flask`
        source(tmp_path, "greeter/calc.py", "import json\n\n# uses no sqlite3\ndef f():\n"
               "    return 'flask'\n"),
        source(tmp_path, "greeter/unread.py", "x = (1,\n"),
    ]

    analysis = analyse(tmp_path, "greeter", [], {}, files, watch=WATCH)

    assert analysis.problems == ()  # unread.py was not parsed: Python reports it, at import
    scanned = {m.module: (sorted(m.imports), m.defines) for m in analysis.modules}
    assert scanned == {
        "greeter.db": (["sqlite3"], ()),
        "greeter.noted": (["os"], ()),  # named on an import line: parsed, to be sure
        "greeter.joined": (["os", "sqlite3"], ()),
        "greeter.back": (["flask", "flask.Flask"], ()),
        "greeter.old_mac": (["flask", "flask.Flask", "os"], ()),
        "greeter.late": (["flask", "importlib"], ()),
        "greeter.jobs": ([], ("run",)),  # a function rule's module
        "greeter.wide": (["flask"], ()),  # not ASCII: parsed
        "greeter.calc": ([], ()),  # imports nothing watched: not parsed, nothing recorded
        "greeter.unread": ([], ()),
    }


def test_a_watch_parses_a_source_that_declares_its_encoding(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\nx = (1,\n"
    files = [source(tmp_path, "greeter/old.py", text)]

    analysis = analyse(tmp_path, "greeter", [], {}, files, watch=WATCH)

    assert [str(p) for p in analysis.problems] == ["greeter/old.py:2:5: '(' was never closed"]
