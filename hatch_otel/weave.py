"""Phase 3: weave trampolines into the project's own sources.

The project-wide step (what one module's weave produces lives in `sites.py`):
results from the cache first, the rest woven (in parallel when there is much to do): modules that
only call instrumented APIs as text splices at `ast` positions (`splice.py`), the others by the
libcst transformers of `transform.py`, imported only when one is needed: libcst alone costs a
build more than the rest of the hook.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from .cache import NO_CACHE, Cache
from .errors import SourceProblem
from .sites import RUNTIME_ALIAS, ModuleInput, ParseFailure, WeaveResult, WeaveSite
from .splice import splice_calls

__all__ = ["RUNTIME_ALIAS", "ModuleInput", "ParseFailure", "WeaveResult", "WeaveSite",
           "weave_all", "weave_source"]


def weave_source(source: str, unit: ModuleInput) -> WeaveResult:
    """Weave one module; raises ParseFailure when libcst cannot parse it.

    Modules that only call instrumented APIs are spliced as text at `ast` positions; the rest
    go through libcst."""
    spliced = splice_calls(source, unit)
    if spliced is not None:
        return spliced
    from .transform import weave_module

    return weave_module(source, unit)


# -- the whole project: cached, and on every core when there is much to do ---------------------
PARALLEL_LINES = 20_000
"""Below this many lines to weave, starting worker processes costs more than it saves."""


def weave_all(sources: Sequence[tuple[str, ModuleInput]], cache: Cache = NO_CACHE,
              jobs: int | None = None) -> list[WeaveResult | SourceProblem]:
    """Weave many modules: cached results first, the rest in parallel when worth it."""
    keys = [cache.key(repr(unit), text) for text, unit in sources]
    woven = cache.pack("weave")
    results: list[WeaveResult | SourceProblem | None] = [
        _decoded(woven.get(key), text)
        for key, (text, _) in zip(keys, sources, strict=True)]
    missing = [i for i, result in enumerate(results) if result is None]
    lines = sum(sources[i][0].count("\n") for i in missing)
    workers = jobs or int(os.environ.get("HATCH_OTEL_JOBS", "0")) or os.cpu_count() or 1
    if workers > 1 and len(missing) > 1 and lines >= PARALLEL_LINES:
        from concurrent.futures import ProcessPoolExecutor

        texts, units = zip(*(sources[i] for i in missing), strict=True)
        with ProcessPoolExecutor(min(workers, len(missing))) as pool:
            fresh = list(pool.map(_weave_or_problem, texts, units,
                                  chunksize=max(1, len(missing) // (workers * 4))))
    else:
        fresh = [_weave_or_problem(*sources[i]) for i in missing]
    for index, result in zip(missing, fresh, strict=True):
        results[index] = result
        woven.put(keys[index], _encoded(result, sources[index][0]))
    woven.save()
    return [r for r in results if r is not None]


def _weave_or_problem(text: str, unit: ModuleInput) -> WeaveResult | SourceProblem:
    """A worker's job: results travel back to the parent, exceptions would not pickle."""
    try:
        return weave_source(text, unit)
    except ParseFailure as failure:
        return failure.problem


def _encoded(result: WeaveResult | SourceProblem, original: str) -> dict[str, Any]:
    if isinstance(result, SourceProblem):
        return {"problem": dataclasses.astuple(result)}
    return {"source": result.source if result.source != original else None,
            "sites": [dataclasses.astuple(s) for s in result.sites],
            "ignored": [dataclasses.astuple(s) for s in result.ignored],
            "earlier": list(result.earlier)}


def _decoded(entry: Any, original: str) -> WeaveResult | SourceProblem | None:
    if not isinstance(entry, dict):
        return None
    if "problem" in entry:
        return SourceProblem(*entry["problem"])
    return WeaveResult(original if entry["source"] is None else entry["source"],
                       tuple(WeaveSite(*s) for s in entry["sites"]),
                       tuple(WeaveSite(*s) for s in entry["ignored"]),
                       tuple(entry.get("earlier", ())))
