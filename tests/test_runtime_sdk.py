"""The runtime's exporters across a real os.fork(), as Celery's prefork pool and gunicorn fork.

A child must not inherit an exporter (its pooled connections are the parent's sockets), and a
fork must wait for an export thread's first export, where the HTTP stack imports lazily: a
fork in the middle of an import leaves the child that module's lock, held for good.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from hatch_otel.runtime import sdk

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(check: Callable[[], bool]) -> bool:
    """Fork; the child runs `check` and exits with its answer; returns it in the parent."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def counting_export() -> tuple[sdk.ForkSafeExport, list[object]]:
    """A ForkSafeExport whose exporters are plain objects, and the list of those it built."""
    builds: list[object] = []

    def build() -> object:
        builds.append(object())
        return builds[-1]

    return sdk.ForkSafeExport(build), builds


@contextmanager
def export_in_progress(export: sdk.ForkSafeExport) -> Iterator[None]:
    """An export on another thread that lasts until the block ends (at most 5 s)."""
    started, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=export.run,
                              args=(lambda exporter: (started.set(), release.wait(5)),))
    thread.start()
    started.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()


def test_a_fork_waits_for_the_first_export_to_end() -> None:
    export, _ = counting_export()
    started, ended_at = threading.Event(), []

    def slow_first_export(exporter: object) -> None:
        started.set()
        time.sleep(0.3)  # where requests would be importing netrc
        ended_at.append(time.monotonic())

    thread = threading.Thread(target=export.run, args=(slow_first_export,))
    thread.start()
    started.wait()
    assert in_child(lambda: True)
    forked_at = time.monotonic()
    thread.join()
    assert ended_at and forked_at >= ended_at[0]


def test_later_exports_do_not_hold_up_a_fork() -> None:
    export, _ = counting_export()
    export.run(lambda exporter: None)
    with export_in_progress(export):
        begun = time.monotonic()
        assert in_child(lambda: True)
        assert time.monotonic() - begun < 0.25


def test_a_child_builds_its_own_exporter() -> None:
    export, builds = counting_export()
    parents = export.get()

    def child_has_its_own() -> bool:
        return export.current() is None and export.get() is not parents and len(builds) == 2

    assert in_child(child_has_its_own)
    assert export.get() is parents and len(builds) == 1


def test_a_fork_waits_a_bounded_time_and_the_child_still_exports(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A first export stuck on a collector that does not answer delays a fork by at most
    FORK_WAIT_SECONDS, and the child's own exports are not blocked by the parent's lock."""
    monkeypatch.setattr(sdk, "FORK_WAIT_SECONDS", 0.2)
    export, _ = counting_export()
    with export_in_progress(export):
        begun = time.monotonic()
        assert in_child(lambda: export.run(lambda exporter: "exported") == "exported")
        assert 0.15 < time.monotonic() - begun < 2
