"""Real builds, real virtual environments, real processes: helpers the end-to-end tests share."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_project"
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def run(command: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd,
                            env={**os.environ, **PIP_ENV, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def copy_project(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("dist", "build", ".demo",
                                                                       "__pycache__"))
    return destination


def pip_wheel(project: Path, out: Path, wheelhouse: Path, *extra: str,
              env: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """`pip wheel` with build isolation, as a Dockerfile runs it; hatch-otel from `wheelhouse`."""
    result = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--wheel-dir",
                  str(out), *extra, str(project)],
                 env={"PIP_FIND_LINKS": str(wheelhouse), **(env or {})})
    return _single_wheel(out), result.stdout + result.stderr


def _single_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def wheel_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name).decode()


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@dataclass(frozen=True)
class Env:
    """A fresh virtual environment."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def pip_install(self, *args: str) -> None:
        run([str(self.python), "-m", "pip", "install", "--quiet", *args])


def fresh_env(path: Path) -> Env:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return Env(path)


@contextmanager
def serving(command: list[str], port: int, env: Mapping[str, str],
            log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process and wait until it answers HTTP; stop it afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, **env})
        try:
            wait_for_http(f"http://127.0.0.1:{port}/", process, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path,
                  timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"server did not answer on {url}:\n{log.read_text()}")


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
