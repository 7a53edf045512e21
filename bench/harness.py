"""What every scenario shares: the work directory, its virtual environments, the discarding OTLP
receiver, child processes measured one by one, interleaved rounds and their statistics.

Standard library only: the runner itself works with any Python >= 3.10, before anything is
installed.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CHILDREN = BENCH / "children"
CONSTRAINTS = BENCH / "constraints.txt"
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}

OTEL = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-distro")
ENVS: dict[str, tuple[str, ...]] = {
    # builds: hatchling and hatch-otel from this checkout (editable, so the checkout is measured),
    # and a hook plugin that does nothing (the floor of any third-party hook)
    "build": ("hatchling", "libcst", f"-e{REPO}", str(BENCH / "noop_hook")),
    "flask": ("flask", *OTEL, "opentelemetry-instrumentation-flask"),
    "fastapi": ("fastapi", "httpx", *OTEL, "opentelemetry-instrumentation-fastapi"),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- environments --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Env:
    name: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.path / "bin" / name

    def versions(self, names: Iterable[str]) -> dict[str, str]:
        code = ("import importlib.metadata as m, json, sys\n"
                "out = {}\n"
                "for n in sys.argv[1:]:\n"
                "    try: out[n] = m.version(n)\n"
                "    except m.PackageNotFoundError: pass\n"
                "print(json.dumps(out))")
        result = subprocess.run([str(self.python), "-c", code, *names], capture_output=True,
                                text=True, check=True)
        versions: dict[str, str] = json.loads(result.stdout)
        return versions


def checked(command: Sequence[object], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a set-up command; on failure show its output and stop."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                            env={**os.environ, **PIP_ENV, **kwargs.pop("env", {})}, **kwargs)
    if result.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{result.stdout}{result.stderr}")
    return result


def ensure_env(work: Path, name: str) -> Env:
    """A virtual environment per requirement set, reused while its requirements (and the
    constraints and the Python) are unchanged."""
    requirements = ENVS[name]
    key = hashlib.sha256(json.dumps([requirements, CONSTRAINTS.read_text(), sys.version])
                         .encode()).hexdigest()[:10]
    env = Env(name, work / "envs" / f"{name}-{key}")
    if (env.path / ".ready").exists():
        return env
    log(f"   setting up the {name} environment ({' '.join(requirements)})")
    shutil.rmtree(env.path, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env.path)
    checked([env.python, "-m", "pip", "install", "--quiet", "-c", CONSTRAINTS, *requirements])
    (env.path / ".ready").write_text(key)
    return env


def install_target(env: Env, wheel: Path, target: Path) -> Path:
    """Install a wheel into its own folder (put on PYTHONPATH), so that the plain and the woven
    build of one project share an environment and differ in nothing else."""
    shutil.rmtree(target, ignore_errors=True)
    checked([env.python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
             "--target", target, wheel])
    return target


def build_wheel(build_env: Env, project: Path, out: Path, woven: bool) -> Path:
    """`pip wheel --no-build-isolation` in the build environment; plain = the same project with
    hatchling's build hooks switched off (HATCH_BUILD_NO_HOOKS)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    checked([build_env.python, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--no-build-isolation", "--wheel-dir", out, project],
            env={} if woven else {"HATCH_BUILD_NO_HOOKS": "true"})
    return next(out.glob("*.whl"))


# -- the receiver --------------------------------------------------------------------------------
class _Discard(http.server.BaseHTTPRequestHandler):
    """Reads an OTLP/HTTP export and answers 200 with an empty (valid) protobuf response."""

    protocol_version = "HTTP/1.1"
    counts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.counts[self.path] = self.counts.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """A local OTLP/HTTP endpoint that counts and discards what it receives."""

    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Discard)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> dict[str, int]:
        with _Discard.lock:
            return dict(_Discard.counts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def otel_env(receiver: Receiver) -> dict[str, str]:
    """The SDK settings every variant shares: OTLP/HTTP traces and metrics to the receiver."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "bench",
    }


def child_env(extra: Mapping[str, str], pythonpath: Path | None = None) -> dict[str, str]:
    """A clean environment for a measured process: no OTEL_* or PYTHON* leaking in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONHASHSEED"] = "0"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra)
    return env


# -- measured processes --------------------------------------------------------------------------
@dataclass
class Usage:
    """What the kernel accounted to one child process (wait4)."""

    wall_s: float
    cpu_s: float
    maxrss_mb: float
    returncode: int
    stdout: str = ""


def run_measured(command: Sequence[object], env: Mapping[str, str], cwd: Path | None = None,
                 timeout: float = 600) -> Usage:
    """Run a process to completion; wall time, user+system CPU and peak RSS of that process."""
    started = time.perf_counter()
    process = subprocess.Popen([str(c) for c in command], env=dict(env), cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output: list[bytes] = []
    errors: list[bytes] = []
    readers = [threading.Thread(target=lambda s=s, o=o: o.append(s.read()), daemon=True)
               for s, o in ((process.stdout, output), (process.stderr, errors))]
    for reader in readers:
        reader.start()
    usage = _wait4(process, timeout)
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    if usage[0]:
        raise RuntimeError(f"{' '.join(map(str, command))} exited {usage[0]}:\n"
                           f"{b''.join(errors).decode(errors='replace')[-4000:]}")
    return Usage(wall, usage[1], usage[2], usage[0], b"".join(output).decode())


def _wait4(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, float, float]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return (process.returncode, rusage.ru_utime + rusage.ru_stime,
                    rusage.ru_maxrss / 1024)
        if time.monotonic() > deadline:
            process.kill()
            timeout = 60
        time.sleep(0.001)


def first_response(command: Sequence[object], env: Mapping[str, str], port: int,
                   path: str = "/greet", settle: float = 1.0, timeout: float = 60) -> Usage:
    """Start a server; wall time until it first answers `path` with 200. Then let it idle for
    `settle` seconds (background set-up finishes and counts), SIGKILL it (no exit work) and
    take its CPU and peak RSS from the kernel."""
    started = time.perf_counter()
    process = subprocess.Popen([str(c) for c in command], env=dict(env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
    wall = None
    while time.perf_counter() - started < timeout and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(request)
                head = connection.recv(64)
            if head.startswith(b"HTTP/1.") and head.split()[1] == b"200":
                wall = time.perf_counter() - started
                break
        except OSError:
            time.sleep(0.002)
    if wall is None:
        process.kill()
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"{' '.join(map(str, command))} never answered:\n{error[-4000:]}")
    time.sleep(settle)
    process.send_signal(signal.SIGKILL)
    _, cpu, rss = _wait4(process, 30)
    if process.stderr:
        process.stderr.close()
    return Usage(wall, cpu, rss, 0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- rounds and statistics -----------------------------------------------------------------------
Measure = Callable[[str], dict[str, float]]


def interleaved(variants: Sequence[str], rounds: int, measure: Measure,
                label: str) -> list[dict[str, dict[str, float]]]:
    """A B C A B C ...: every round measures every variant once, in the same order."""
    results: list[dict[str, dict[str, float]]] = []
    for number in range(rounds):
        log(f"   {label}: round {number + 1}/{rounds}")
        results.append({variant: measure(variant) for variant in variants})
    return results


def median_of(results: Sequence[Mapping[str, Mapping[str, float]]], variant: str,
              metric: str) -> float:
    return statistics.median(r[variant][metric] for r in results)


def median_ratio(results: Sequence[Mapping[str, Mapping[str, float]]],
                 ratio: Callable[[Mapping[str, Mapping[str, float]]], float]) -> float:
    """Ratios are computed round by round (variants of one round ran side by side), then the
    median is taken."""
    return statistics.median(ratio(r) for r in results)


@dataclass
class Target:
    """One acceptance target of the issue and its verdict."""

    scenario: str
    text: str
    measured: float | None
    limit: float
    unit: str = "x"
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "PENDING"
        return "PASS" if self.measured <= self.limit else "FAIL"

    def as_row(self) -> list[str]:
        shown = "n/a" if self.measured is None else f"{self.measured:.2f}{self.unit}"
        return [self.scenario, self.text, shown, f"<= {self.limit:g}{self.unit}", self.verdict,
                self.note]


@dataclass
class Section:
    """One scenario's result: a table of medians, its targets and notes."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: list[Any] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", *markdown_table(self.columns, self.rows), ""]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f}"
