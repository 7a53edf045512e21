"""Shared fixtures: the hatch-otel wheel built from this checkout, an OTLP receiver, free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    sys.path.insert(0, str(REPO))
    # builds run by the tests (in subprocesses too) keep their cache out of the user's
    cache = Path(tempfile.mkdtemp(prefix="hatch-otel-test-cache-"))
    os.environ.setdefault("HATCH_OTEL_CACHE_DIR", str(cache))


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the hatch-otel wheel built from this checkout (a `--find-links`)."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(folder), str(REPO)],
        check=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return folder


@pytest.fixture(scope="session")
def sample_build(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample's wheel, built by `pip wheel` with build isolation, and the build's output."""
    from e2e import SAMPLE, copy_project, pip_wheel

    work = tmp_path_factory.mktemp("sample")
    project = copy_project(SAMPLE, work / "sample_project")
    return pip_wheel(project, work / "dist", wheelhouse)


@pytest.fixture(scope="session")
def sample_env(sample_build: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> object:
    """A fresh virtual environment with the woven sample wheel and its dependencies installed."""
    from e2e import fresh_env

    env = fresh_env(tmp_path_factory.mktemp("app") / "venv")
    env.pip_install(str(sample_build[0]))
    return env


@pytest.fixture
def receiver() -> Iterator[object]:
    from hatch_otel.receiver import OtlpReceiver

    with OtlpReceiver() as running:
        yield running



@pytest.fixture(scope="session")
def apps_env(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One environment for the hook library's small apps (see tests/apps.py)."""
    from apps import make_apps_env

    return make_apps_env(tmp_path_factory.mktemp("apps") / "venv")
