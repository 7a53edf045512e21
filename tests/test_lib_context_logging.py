"""Log correlation: records a woven app logs inside a span carry its trace and span ids, in the
app's own log format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

APP = '''
import logging
import os


def main():
    if os.environ.get("APP_FORMAT"):
        logging.basicConfig(format=os.environ["APP_FORMAT"], level=logging.INFO)
    previous = logging.getLogRecordFactory()

    def tenant_factory(*args, **kwargs):  # the app's own factory, chaining the one it found
        record = previous(*args, **kwargs)
        record.tenant = "acme"
        return record

    logging.setLogRecordFactory(tenant_factory)
    log = logging.getLogger("shop")
    record = logging.getLogRecordFactory()("shop", logging.INFO, __file__, 1, "probe", (), None)
    print("correlated:", hasattr(record, "otelTraceID"), flush=True)
    log.info("before any span")
    order(log)


def order(log):
    log.warning("inside the span")
'''
TABLE = '''
[[tool.hatch.build.hooks.otel.trace]]
function = "ctxlogging.app:order"
'''
FORMAT = ("%(levelname)s [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s "
          "sampled=%(otelTraceSampled)s service=%(otelServiceName)s tenant=%(tenant)s] "
          "%(message)s")


def _run(apps_env: AppsEnv, tmp_path: Path, receiver: OtlpReceiver,
         env: dict[str, str]) -> str:
    receiver.clear()
    log = tmp_path / "app.log"
    with running(apps_env, ["-c", "from ctxlogging.app import main; main()"], receiver, env,
                 log) as process:
        assert process.wait(timeout=30) == 0, log.read_text()
    return log.read_text()


def test_records_in_a_span_carry_its_ids(apps_env: AppsEnv, tmp_path: Path,
                                         receiver: OtlpReceiver):
    project = write_project(tmp_path / "project", "ctxlogging",
                            {"__init__.py": "", "app.py": APP}, otel_table=TABLE)
    wheel, _ = build_wheel(project, tmp_path / "dist")
    apps_env.install_wheel(wheel)

    output = _run(apps_env, tmp_path, receiver, {"APP_FORMAT": FORMAT})
    order = receiver.wait_for_spans(lambda s: any(x.name == "order" for x in s))[0]
    assert "correlated: True" in output
    assert re.search(r"^INFO \[trace_id=0 span_id=0 sampled=False service=(ctxlogging)? "
                     r"tenant=acme\] before any span$", output, re.M)  # the SDK may start later
    assert (f"WARNING [trace_id={order.trace_id} span_id={order.span_id} sampled=True "
            "service=ctxlogging tenant=acme] inside the span") in output

    output = _run(apps_env, tmp_path, receiver,
                  {"APP_FORMAT": "%(message)s", "OTEL_PYTHON_LOG_CORRELATION": "false"})
    assert "correlated: False" in output

    output = _run(apps_env, tmp_path, receiver, {
        "OTEL_PYTHON_LOG_FORMAT": "otel %(otelServiceName)s %(otelTraceID)s %(otelSpanID)s "
                                  "%(message)s",
        "OTEL_PYTHON_LOG_LEVEL": "info", "OTEL_SERVICE_NAME": "billing"})
    order = receiver.wait_for_spans(lambda s: any(x.name == "order" for x in s))[0]
    assert f"otel billing {order.trace_id} {order.span_id} inside the span" in output
    assert re.search(r"^otel (billing)? ?0 0 before any span$", output, re.M)
