"""What the database hook tests (tests/test_lib_db_*.py) share; no tests of its own.

Each test file builds a small app through the real build hook: a `jobs` module whose `*_job`
functions a custom `trace` rule turns into INTERNAL parent spans, plus the runner and support
modules here. A job runs as a real process against the real servers; its database spans must be
CLIENT children of the job's span. A secret travels as a query parameter, a stored value, an
AUTH password and in failing statements whose error messages echo it: it must appear nowhere in
the telemetry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from hatch_otel.receiver import OtlpReceiver, ReceivedMetric, ReceivedSpan

SECRET = "s3cr3t-4711-value"
DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

RUNNER = '''
from . import jobs


def main(job, *args):
    getattr(jobs, job)(*args)
'''

SUPPORT = '''
import os

SECRET = os.environ["SECRET"]
DSN = os.environ["DSN"]


def failing(call, *args):
    """Run a statement that must fail, as an app that handles the error would."""
    try:
        call(*args)
    except Exception as error:
        return error
    raise AssertionError("the statement did not fail")
'''

TRACE_RULES = """
[[tool.hatch.build.hooks.otel.trace]]
function = "{package}.jobs:*_job"
"""


def build_app(apps_env: AppsEnv, tmp_path_factory: pytest.TempPathFactory, package: str,
              jobs: str, dependencies: tuple[str, ...]) -> AppsEnv:
    """Build the app `package` (its `jobs` module source given) and install it."""
    root = tmp_path_factory.mktemp(package)
    project = write_project(
        root / "project", package,
        {"__init__.py": "", "runner.py": RUNNER, "support.py": SUPPORT, "jobs.py": jobs},
        dependencies=dependencies,
        otel_table=TRACE_RULES.format(package=package))
    wheel, _ = build_wheel(project, root / "dist")
    apps_env.install_wheel(wheel)
    return apps_env


def run_job(env: AppsEnv, receiver: OtlpReceiver, tmp_path: Path, package: str, job: str,
            arguments: str = "", prelude: str = "") -> tuple[ReceivedSpan, list[ReceivedSpan]]:
    """Run `main(job, <arguments>)` (Python source, after `prelude`) in a process of its own,
    to its end; returns the job's span and the database spans, in the order they started."""
    log = tmp_path / f"{job}.log"
    command = f"{prelude}\nfrom {package}.runner import main\nmain({job!r}, {arguments})"
    with running(env, ["-c", command], receiver, {"SECRET": SECRET, "DSN": DSN}, log) as process:
        assert process.wait(timeout=60) == 0, log.read_text()
    spans = receiver.wait_for_spans(lambda s: any(x.name == job for x in s))
    parent = next(x for x in spans if x.name == job)
    database = [x for x in spans if x.attributes.get("db.system.name")]
    return parent, sorted(database, key=lambda x: x.start_ns)


def duration_points(receiver: OtlpReceiver, library: str) -> list[dict[str, object]]:
    """The attributes of the db.client.operation.duration points `library` recorded."""
    scope = f"hatch_otel.{library}"

    def ours(metrics: list[ReceivedMetric]) -> list[ReceivedMetric]:
        return [m for m in metrics
                if m.name == "db.client.operation.duration" and m.scope == scope]

    metrics = ours(receiver.wait_for_metrics(lambda received: bool(ours(received))))
    assert {(m.kind, m.unit) for m in metrics} == {("histogram", "s")}
    points = [p.attributes for m in metrics for p in m.points]
    assert all("db.query.text" not in p for p in points)
    return points


def assert_children(parent: ReceivedSpan, spans: list[ReceivedSpan]) -> None:
    assert parent.kind == "INTERNAL"
    assert spans
    for span in spans:
        assert span.kind == "CLIENT", span
        assert (span.trace_id, span.parent_span_id) == (parent.trace_id, parent.span_id), span


def assert_failed(span: ReceivedSpan, error_type: str, status: str) -> None:
    """ERROR status, error.type, db.response.status_code, and an exception event that carries
    no message (databases echo values in theirs)."""
    assert span.status_code == "ERROR"
    assert span.attributes["error.type"] == error_type
    assert span.attributes["db.response.status_code"] == status
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == error_type
    assert event.attributes["exception.message"] == status


def assert_secret_kept(receiver: OtlpReceiver) -> None:
    assert SECRET not in repr(receiver.spans)
    assert SECRET not in repr(receiver.metrics)
