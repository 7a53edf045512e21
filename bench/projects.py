"""The projects the benchmarks build: written into the work directory, deterministically."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from harness import REPO

PYPROJECT = """\
[build-system]
requires = ["hatchling", "hatch-otel"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "1.0"
dependencies = [{dependencies}]

[tool.hatch.build.targets.wheel]
packages = ["src/{name}"]

[tool.hatch.build.hooks.{hook}]
{otel}
"""


def write(root: Path, name: str, files: dict[str, str], dependencies: tuple[str, ...] = (),
          otel: str = "", hook: str = "otel") -> Path:
    """A src-layout project with the otel hook table (switched off per build for 'plain'), or
    the table of another `hook`."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "src" / name).mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(
        name=name, dependencies=", ".join(f'"{d}"' for d in dependencies), otel=otel,
        hook=hook))
    for relative, text in files.items():
        path = root / "src" / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def sample(root: Path) -> Path:
    """The repository's sample Flask app, as checked in."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "sample_project", root,
                    ignore=shutil.ignore_patterns(".demo", "dist", "build", "__pycache__"))
    return root


def fastgreeter(root: Path) -> Path:
    """The FastAPI twin of the greeter's GET /greet."""
    return write(root, "fastgreeter", {
        "__init__.py": '"""The FastAPI twin of the greeter."""\n',
        "app.py": '''\
            """GET /greet, as the Flask greeter answers it."""

            from fastapi import FastAPI
            from fastapi.responses import PlainTextResponse

            app = FastAPI()


            @app.get("/greet", response_class=PlainTextResponse)
            async def greet() -> str:
                return "Hello, OpenTelemetry!"
            ''',
    }, dependencies=("fastapi",))


CALL_BODY = """\
    total = 0
    for value in values:
        total += value * value
    return total
"""


def callbench(root: Path) -> Path:
    """`work.compute` is traced by a project rule; `floor` holds the same body with a span
    written by hand (start_span + attach, and start_as_current_span)."""
    body = textwrap.indent(CALL_BODY, "    ")
    return write(root, "callbench", {
        "__init__.py": '"""The per-call benchmark."""\n',
        "work.py": '"""The traced function."""\n\n\ndef compute(values):\n' + CALL_BODY,
        "floor.py": (
            '"""The same body with its span written by hand."""\n\n'
            "from opentelemetry import context, trace\n"
            "from opentelemetry.trace import Status, StatusCode\n\n"
            'tracer = trace.get_tracer("callbench")\n\n\n'
            "def floor_attach(values):\n"
            '    span = tracer.start_span("compute")\n'
            "    token = context.attach(trace.set_span_in_context(span))\n"
            "    try:\n" + body +
            "    except BaseException as exc:\n"
            "        span.record_exception(exc)\n"
            "        span.set_status(Status(StatusCode.ERROR, str(exc)))\n"
            "        raise\n"
            "    finally:\n"
            "        context.detach(token)\n"
            "        span.end()\n\n\n"
            "def floor_cm(values):\n"
            '    with tracer.start_as_current_span("compute"):\n' + body),
    }, otel='[[tool.hatch.build.hooks.otel.trace]]\nfunction = "callbench.work:compute"\n')


# -- the large project ---------------------------------------------------------------------------
def large(root: Path, lines: int, weavable: bool, hook: str = "otel") -> Path:
    """At least `lines` lines in modules of ~400 lines: classes, functions, imports between modules.
    `weavable`: modules also import flask, sqlite3 and urllib.request and call them (a Flask app
    in every fifth module, sqlite3.connect in every second, urlopen in every third), so the
    weaver has real work; otherwise nothing in the project matches a rule."""
    name = "bigapp" if weavable else "bigcalc"
    files = {"__init__.py": f'"""A generated project of at least {lines} lines."""\n'}
    total, index = 1, 0
    while total < lines:
        text = _module(name, index, weavable)
        files[f"mod{index:04d}.py"] = text
        total += text.count("\n")
        index += 1
    return write(root, name, files, dependencies=("flask==3.1.3",) if weavable else (),
                 hook=hook)


def _module(package: str, index: int, weavable: bool) -> str:
    uses_flask, uses_db, uses_http = index % 5 == 0, index % 2 == 0, index % 3 == 0
    head = [f'"""Generated module {index} of {package}."""', "",
            "from __future__ import annotations", "", "import json", "import math"]
    if weavable and uses_db:
        head.append("import sqlite3")
    if weavable and uses_http:
        head.append("import urllib.request")
    if weavable and uses_flask:
        head.append("from flask import Flask, jsonify")
    if index:
        head.append(f"from {package} import mod{(index * 7 + 3) % index:04d} as neighbour")
    head += ["", f"LIMIT = {index % 17 + 3}", ""]
    if weavable and uses_flask:
        head += ["app = Flask(__name__)", "", "",
                 '@app.get("/items/<int:key>")',
                 "def item(key: int) -> object:",
                 "    return jsonify({'key': key, 'value': Service0(':memory:').score(key)})", ""]
    body = [*head]
    cls = 0
    while len(body) < 380:
        body += _class(cls, index, weavable and uses_db, weavable and uses_http, bool(index))
        cls += 1
    return "\n".join(body) + "\n"


def _class(number: int, index: int, db: bool, http: bool, neighbour: bool) -> list[str]:
    lines = ["", "", f"class Service{number}:",
             f'    """Service {number} of module {index}: keeps a path and scores keys."""', "",
             "    def __init__(self, path: str) -> None:",
             "        self.path = path",
             "        self.seen: dict[int, float] = {}", ""]
    if db:
        lines += ["    def load(self, key: int) -> list[tuple[object, ...]]:",
                  "        with sqlite3.connect(self.path) as db:",
                  '            db.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER, v TEXT)")',
                  '            return db.execute("SELECT v FROM t WHERE k = ?", (key,)).fetchall()',
                  ""]
    if http:
        lines += ["    def fetch(self, url: str) -> bytes:",
                  "        with urllib.request.urlopen(url, timeout=5) as response:",
                  "            return response.read()", ""]
    for method in range(4):
        lines += [f"    def score{method}(self, key: int) -> float:",
                  f'        """Score {method}: a little arithmetic, cached per key."""',
                  "        if key in self.seen:",
                  "            return self.seen[key]",
                  "        total = 0.0",
                  f"        for step in range(LIMIT + {method}):",
                  "            if step % 3 == 0:",
                  "                total += math.sqrt(step + key)",
                  "            else:",
                  "                total -= step / (key + 1)",
                  "        self.seen[key] = total",
                  "        return total", ""]
    lines += ["    def score(self, key: int) -> float:",
              "        return max(self.score0(key), self.score1(key), self.score2(key))", "",
              "    def dump(self) -> str:",
              "        return json.dumps(sorted(self.seen.items()))"]
    lines += ["", "", f"def helper{number}(values: list[int]) -> int:",
              f'    """Helper {number}: sums what the services score."""',
              f"    service = Service{number}(':memory:')",
              "    return int(sum(service.score(v) for v in values))"]
    if neighbour:
        lines += ["", "", f"def linked{number}() -> int:",
                  "    return neighbour.LIMIT + LIMIT"]
    return lines
