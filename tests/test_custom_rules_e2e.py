"""A team's own rules, end to end: a woven wheel whose custom `trace` rule produces the span
with its attributes, and records an exception with the repository's line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps import AppsEnv, build_wheel, running, write_project
from hatch_otel.receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

BILLING = '''\
"""Billing: knows nothing of OpenTelemetry."""
from dataclasses import dataclass


@dataclass
class Order:
    id: str
    cents: int


def charge(order, currency="EUR"):
    if order.cents <= 0:
        raise ValueError(f"nothing to charge for {order.id}")
    return f"charged {order.cents} {currency}"


def main():
    print(charge(Order("A-1", 250)))
    try:
        charge(Order("A-2", 0))
    except ValueError as error:
        print("refused:", error)
'''

TABLE = '''
[[tool.hatch.build.hooks.otel.trace]]
function = "shop.billing:charge"
span-name = "charge {currency}"
kind = "client"
attributes = { "order.id" = "order.id", "order.cents" = "order.cents" }
record-return = true
'''


def test_a_custom_trace_rule_gives_its_span_and_the_original_line_numbers(
        apps_env: AppsEnv, tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path / "project", "shop",
                            {"__init__.py": "", "billing.py": BILLING}, otel_table=TABLE)
    wheel, output = build_wheel(project, tmp_path / "dist")
    assert "+ shop (own rules): 1 site(s); trace and hook rules from the otel table" in output
    apps_env.install_wheel(wheel)
    log = tmp_path / "app.log"
    with running(apps_env, ["-c", "from shop.billing import main; main()"], receiver,
                 log=log) as process:
        assert process.wait(timeout=30) == 0
    assert log.read_text().splitlines() == ["charged 250 EUR", "refused: nothing to charge for A-2"]
    spans = receiver.wait_for_spans(2)
    ok, failed = sorted(spans, key=lambda s: s.start_ns)
    assert (ok.name, ok.kind, ok.scope) == ("charge EUR", "CLIENT", "hatch_otel.shop")
    assert ok.attributes == {"order.id": "A-1", "order.cents": 250,
                             "code.return_value": "charged 250 EUR"}
    assert failed.status_code == "ERROR"
    assert failed.attributes["error.type"] == "ValueError"
    [event] = failed.events
    assert event.attributes["exception.message"] == "nothing to charge for A-2"
    raise_line = BILLING.splitlines().index(
        '        raise ValueError(f"nothing to charge for {order.id}")') + 1
    assert f'billing.py", line {raise_line}, in charge' in str(
        event.attributes["exception.stacktrace"])
