"""One measured process of the per-call scenario: every variant in the same process, batch by
batch (A B C A B C ...), so that they share the CPU, the interpreter and the SDK.

    PYTHONPATH=<woven target> python call_loop.py {off|on} PLAIN_TARGET BATCH_SECONDS ROUNDS

`off` (run with OTEL_SDK_DISABLED=true): the woven `callbench.work.compute` against the unwoven
one (loaded from PLAIN_TARGET under another module name). `on`: the woven function, whose
import configures the SDK from the OTEL_* variables, against the same body with its span
written by hand in `callbench.floor` (same global provider, so the same processor and
exporter), and the unwoven function. Each batch is sized to last about BATCH_SECONDS
(calibrated during the warm-up). Prints JSON: per round, per variant, the mean CPU time of this
thread and the mean wall time per call.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VALUES = tuple(range(8))


def unwoven(plain_target: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location(
        "unwoven_work", Path(plain_target) / "callbench" / "work.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Callable[..., Any] = module.compute
    return function


def calibrated(function: Callable[..., Any], seconds: float) -> int:
    calls = 100
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            function(VALUES)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 4:
            return max(100, int(calls * seconds / elapsed))
        calls *= 4


def main() -> None:
    state, plain_target = sys.argv[1], sys.argv[2]
    seconds, rounds = float(sys.argv[3]), int(sys.argv[4])
    from callbench.work import compute

    if hasattr(compute, "__wrapped__") != (state == "on"):
        raise SystemExit(f"SDK {state}: the woven function is "
                         f"{'' if hasattr(compute, '__wrapped__') else 'not '}wrapped")
    if state == "off":
        functions = {"unwoven, SDK disabled": unwoven(plain_target),
                     "woven, SDK disabled": compute}
    else:
        from callbench import floor

        functions = {"unwoven": unwoven(plain_target), "woven": compute,
                     "floor: start_span + attach": floor.floor_attach,
                     "floor: start_as_current_span": floor.floor_cm}
    sizes = {name: calibrated(function, seconds) for name, function in functions.items()}
    results = []
    for _ in range(rounds):
        measured = {}
        for name, function in functions.items():
            calls = sizes[name]
            started, started_cpu = time.perf_counter(), time.thread_time()
            for _ in range(calls):
                function(VALUES)
            measured[name] = {"cpu_s": (time.thread_time() - started_cpu) / calls,
                              "wall_s": (time.perf_counter() - started) / calls}
        results.append(measured)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
