"""The import join point: hooks run once, right after a watched module's first import."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from hatch_otel.runtime import imports


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Path]:
    """A real package on sys.path, removed again afterwards."""
    package = tmp_path / "watchedlib"
    package.mkdir()
    (package / "__init__.py").write_text("from .client import Client\n")
    (package / "client.py").write_text(
        "class Client:\n    def send(self):\n        return 'sent'\n")
    sys.path.insert(0, str(tmp_path))
    yield package
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("watchedlib")]:
        del sys.modules[name]
    imports._watch.hooks.clear()


def test_a_hook_runs_after_the_first_import_and_covers_earlier_references(library: Path):
    seen: list[str] = []

    def patch(module: ModuleType) -> None:
        seen.append(module.__name__)
        original = module.Client.send
        module.Client.send = lambda self: "traced " + original(self)

    imports.on_import("watchedlib.client", "test.rule", patch)
    assert "watchedlib.client" not in sys.modules  # nothing imported on the app's behalf
    from watchedlib import Client  # the reference is taken during the package's own import

    assert Client().send() == "traced sent"
    import watchedlib.client  # noqa: F401

    assert seen == ["watchedlib.client"]


def test_a_module_imported_before_the_bootstrap_is_hooked_at_once(library: Path):
    import watchedlib.client

    seen: list[ModuleType] = []
    imports.on_import("watchedlib.client", "test.rule", seen.append)
    assert seen == [watchedlib.client]


def test_a_failing_hook_leaves_the_import_working_and_is_reported_once(
        library: Path, caplog: pytest.LogCaptureFixture):
    def broken(module: ModuleType) -> None:
        raise RuntimeError("hook bug")

    imports.on_import("watchedlib.client", "test.broken", broken)
    with caplog.at_level(logging.WARNING, logger="hatch_otel"):
        import watchedlib

        assert watchedlib.Client().send() == "sent"
    assert [r.getMessage() for r in caplog.records] == [
        "hatch-otel: hook test.broken: on import of watchedlib.client failed; the application "
        "continues uninstrumented at this point (reported once)"]
