"""Runtime telemetry every woven app reports: CPU time, memory, threads and the garbage
collector, as observable instruments read only when metrics are exported (no cost per request).

Names follow the process and CPython semantic conventions.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def register(provider: MeterProvider, version: str) -> None:
    meter = provider.get_meter("hatch_otel.runtime", version)
    meter.create_observable_counter("process.cpu.time", [_cpu_time], unit="s",
                                    description="CPU time used by the process.")
    meter.create_observable_up_down_counter("process.memory.usage", [_resident_memory],
                                            unit="By", description="Resident memory.")
    meter.create_observable_up_down_counter("process.thread.count", [_threads],
                                            unit="{thread}", description="Live threads.")
    meter.create_observable_counter("cpython.gc.collections", [_collections],
                                    unit="{collection}",
                                    description="Garbage collections, per generation.")


def _cpu_time(options: CallbackOptions) -> Iterable[Observation]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    yield Observation(usage.ru_utime, {"cpu.mode": "user"})
    yield Observation(usage.ru_stime, {"cpu.mode": "system"})


def _resident_memory(options: CallbackOptions) -> Iterable[Observation]:
    try:
        with open("/proc/self/statm", "rb") as statm:
            yield Observation(int(statm.read().split()[1]) * _PAGE)
    except OSError:  # not Linux: the peak is what the platform offers
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        yield Observation(peak if sys.platform == "darwin" else peak * 1024)


def _threads(options: CallbackOptions) -> Iterable[Observation]:
    yield Observation(threading.active_count())


def _collections(options: CallbackOptions) -> Iterable[Observation]:
    stats: list[dict[str, Any]] = gc.get_stats()
    for generation, counts in enumerate(stats):
        yield Observation(counts["collections"], {"cpython.gc.generation": generation})
