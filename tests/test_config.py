"""The otel table: every option, and every error message with its TOML key (exact text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatch_otel.config import GLOBAL_TABLE, WHEEL_TABLE, Config, load, table_path
from hatch_otel.errors import ConfigError
from hatch_otel.rules import SpanSpec


def problems(raw: dict[str, object], root: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(raw, root, WHEEL_TABLE)
    return caught.value.problems


def test_an_empty_table_means_the_defaults(tmp_path: Path) -> None:
    assert load({}, tmp_path) == Config()
    assert load({"enable-by-default": True, "dependencies": ["x"]}, tmp_path) == Config()


def test_every_option_is_read(tmp_path: Path) -> None:
    (tmp_path / "more.toml").write_text(
        '[[trace]]\nfunction = "shop.more:*"\n[[hook]]\ntarget = "shop.pay:Gateway.send"\n'
        'after = "shop.telemetry:after_send"\n')
    config = load({
        "strict": False, "exclude": ["shop/migrations/**"], "disable": ["Redis"],
        "trace": [{"function": "shop.billing:charge", "span-name": "charge {order.id}",
                   "kind": "client", "attributes": {"order.id": "order.id"},
                   "record-exception": False, "record-return": True, "optional": True},
                  {"function": "*"}],
        "rules": ["more.toml"],
    }, tmp_path)
    assert (config.strict, config.exclude, config.disable) == (
        False, ("shop/migrations/**",), frozenset({"redis"}))
    first, everything, more, hook = config.rules
    assert (first.id, first.target, first.optional, first.origin) == (
        "trace.0", "shop.billing:charge", True, f"{WHEEL_TABLE}.trace[0]")
    assert first.span == SpanSpec("charge {order.id}", "client", (("order.id", "order.id"),),
                                  record_exception=False, record_return=True)
    assert (everything.target, everything.span) == ("*:*", SpanSpec())
    assert (more.target, more.origin) == ("shop.more:*", "more.toml: trace[0]")
    assert (hook.id, hook.join_point, hook.target, hook.before, hook.after) == (
        "hook.0", "function", "shop.pay:Gateway.send", None, "shop.telemetry:after_send")


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("trace = 3\n")
    assert problems({
        "strict": "yes", "exclude": "x", "colour": 1, "rules": ["missing.toml", "bad.toml"],
        "trace": [{"kind": "sideways", "attributes": ["a"], "record-return": 1, "extra": 1}],
        "hook": [{"target": "shop.pay", "before": ":f"}, {"target": "a:b"}],
    }, tmp_path) == [
        f"{WHEEL_TABLE}.colour: unknown option; the otel hook understands disable, exclude, "
        "hook, rules, strict, trace",
        f"{WHEEL_TABLE}.strict: must be true or false, not 'yes'",
        f"{WHEEL_TABLE}.exclude: must be a list of strings, not 'x'",
        f"{WHEEL_TABLE}.rules: cannot read 'missing.toml': No such file or directory",
        "bad.toml: trace: must be an array of tables ([[trace]])",
        f"{WHEEL_TABLE}.trace[0].extra: unknown key; expected one of attributes, function, kind, "
        "optional, record-exception, record-return, span-name",
        f"{WHEEL_TABLE}.trace[0].function: is required",
        f"{WHEEL_TABLE}.trace[0].kind: must be one of internal, server, client, producer, "
        "consumer, not 'sideways'",
        f"{WHEEL_TABLE}.trace[0].attributes: must be a table of attribute name = parameter "
        '(e.g. { "order.id" = "order.id" })',
        f"{WHEEL_TABLE}.trace[0].record-return: must be true or false, not 1",
        f"{WHEEL_TABLE}.hook[0].target: 'shop.pay' must be 'module:qualified.name'",
        f"{WHEEL_TABLE}.hook[0].before: ':f' must be 'module:qualified.name'",
        f"{WHEEL_TABLE}.hook[1]: needs `before`, `after` or both",
    ]


def test_invalid_toml_in_a_rules_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[[trace]\n")
    [problem] = problems({"rules": ["broken.toml"]}, tmp_path)
    assert problem.startswith(f"{WHEEL_TABLE}.rules: broken.toml is not valid TOML: ")


@pytest.mark.parametrize(("pyproject", "expected"), [
    ("[tool.hatch.build.targets.wheel.hooks.otel]\n", WHEEL_TABLE),
    ("[tool.hatch.build.hooks.otel]\n", GLOBAL_TABLE),
])
def test_messages_quote_the_table_the_user_wrote(tmp_path: Path, pyproject: str,
                                                 expected: str) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    assert table_path(tmp_path) == expected
