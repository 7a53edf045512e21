"""The hatch-otel demo, from a fresh machine: `python3 sample_project/demo.py`.

1. builds hatch-otel from this checkout, then the greeter's wheel with `pip wheel` (build
   isolation, as in a Dockerfile), printing the instrumentation plan;
2. installs the woven wheel into a fresh virtual environment;
3. starts `hatch-otel receive` (a local OTLP receiver) and the greeter, sends it requests,
   and shows the traces that arrive. Nothing in the greeter's source mentions OpenTelemetry.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".demo"
PIP = ["-m", "pip", "--disable-pip-version-check", "--quiet"]


def step(message: str) -> None:
    print(f"\n== {message}", flush=True)


def quietly(*command: object, env: dict[str, str] | None = None) -> str:
    """Run a command; show its output only when it fails."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                            env=env or dict(os.environ))
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)
    return result.stdout + result.stderr


def env_at(path: Path, *requirements: str) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    quietly(python, *PIP, "install", *requirements)
    return python


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{url} exited early")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    wheelhouse, dist = WORK / "wheelhouse", WORK / "dist"

    step("building hatch-otel from this checkout")
    quietly(sys.executable, *PIP, "wheel", "--no-deps", "-w", wheelhouse, REPO)

    step("building the greeter's wheel: pip wheel sample_project (the plan follows)")
    output = quietly(sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", dist, HERE,
                     env={**os.environ, "PIP_FIND_LINKS": str(wheelhouse)})
    print("\n".join(line.strip() for line in output.splitlines()
                    if "hatch-otel " in line or line.strip()[:2] in ("+ ", "- ", "! ")))

    step("installing the woven wheel and the receiver into fresh environments")
    app = env_at(WORK / "app", str(next(dist.glob("greeter-*.whl"))))
    tools = env_at(WORK / "tools", f"{REPO}[receive]")

    receiver_port, app_port = free_port(), free_port()
    receiver = subprocess.Popen([tools.parent / "hatch-otel", "receive", "--port",
                                 str(receiver_port)])
    greeter = subprocess.Popen(
        [app.parent / "greeter"], stderr=subprocess.DEVNULL,
        env={**os.environ, "GREETER_PORT": str(app_port),
             "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver_port}",
             "OTEL_BSP_SCHEDULE_DELAY": "200"})
    try:
        base = f"http://127.0.0.1:{app_port}"
        wait_until_up(f"{base}/greet", greeter)
        step("GET /greet and GET /chain; the receiver prints the traces as they arrive")
        for path in ("/greet", "/chain"):
            with urllib.request.urlopen(base + path) as response:
                print(f"{path} -> {response.status} {response.read().decode()}", flush=True)
        time.sleep(1.5)
    finally:
        greeter.terminate()
        greeter.wait()
        time.sleep(0.5)
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
