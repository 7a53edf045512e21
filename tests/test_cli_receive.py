"""`hatch-otel receive` as a real process: what a user sees in the terminal and in the file."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from hatch_otel.cli import main, use_color

ROOT = Path(__file__).resolve().parents[1]


def cli_env(*extra_path: Path) -> dict[str, str]:
    env = dict(os.environ, NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), str(ROOT)])
    return env


def hatch_otel(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_otel", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_receive_prints_trees_and_writes_jsonl(tmp_path: Path) -> None:
    port, jsonl = free_port(), tmp_path / "spans.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "hatch_otel", "receive", "--port", str(port), "--jsonl", str(jsonl)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        wait_until_listening(port, process)
        provider = TracerProvider(resource=Resource.create({"service.name": "cli-test"}))
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("t")
        with (
            tracer.start_as_current_span(
                "GET /ping", kind=SpanKind.SERVER, attributes={"http.route": "/ping"}
            ) as root,
            tracer.start_as_current_span("work"),
        ):
            pass
        assert provider.force_flush()
        provider.shutdown()
        trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == f"trace {trace_id} (cli-test)"
    assert lines[1].startswith("  GET /ping [SERVER] ") and lines[1].endswith(" http.route=/ping")
    assert lines[2].startswith("    work [INTERNAL] ")
    assert "\x1b[" not in stdout
    assert f"receiving OTLP/HTTP on http://127.0.0.1:{port}" in stderr
    assert "received 2 spans" in stderr and "Traceback" not in stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(record["name"] for record in records) == ["GET /ping", "work"]
    assert {record["trace_id"] for record in records} == {trace_id}


def test_sigterm_stops_quietly(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hatch_otel", "receive", "--port", str(port), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    wait_until_listening(port, process)
    process.terminate()
    assert process.communicate(timeout=15) == ("", "")
    assert process.returncode == 0


def test_port_in_use_is_one_line(busy_port: int) -> None:
    result = hatch_otel("receive", "--port", str(busy_port), env=cli_env())
    assert result.returncode == 1
    assert result.stderr == (
        f"hatch-otel: cannot listen on 127.0.0.1:{busy_port}: address already in use\n"
    )
    assert result.stdout == ""


def test_unwritable_jsonl_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "spans.jsonl"
    result = hatch_otel("receive", "--port", "0", "--jsonl", str(target), env=cli_env())
    assert result.returncode == 1
    assert result.stderr == f"hatch-otel: cannot write {target}: No such file or directory\n"


def test_missing_opentelemetry_proto_names_the_extra(tmp_path: Path) -> None:
    # A regular package named `opentelemetry` hides the real namespace package.
    (tmp_path / "opentelemetry").mkdir()
    (tmp_path / "opentelemetry" / "__init__.py").write_text("")
    result = hatch_otel("receive", "--port", "0", env=cli_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "hatch-otel: `receive` needs opentelemetry-proto: pip install 'hatch-otel[receive]'\n"
    )


def test_usage_errors_exit_2() -> None:
    assert hatch_otel("receive", "--port", "http", env=cli_env()).returncode == 2
    result = hatch_otel(env=cli_env())
    assert result.returncode == 2 and "COMMAND" in result.stderr


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["receive", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    assert "--jsonl FILE" in capsys.readouterr().out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Terminal()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Terminal())
