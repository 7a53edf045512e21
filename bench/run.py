"""hatch-otel benchmarks: woven vs plain vs opentelemetry-instrument vs a hand-written floor.

    python bench/run.py [--quick] [--only NAME ...] [--rounds N] [--work DIR] [--write-doc]

Sets up everything itself (virtual environments under the work directory, default
$TMPDIR/hatch-otel-bench or $HATCH_OTEL_BENCH_WORK, reused while their requirements are
unchanged), runs the scenarios (startup, request, call, build), prints the tables and the
targets' verdicts, writes bench/results/latest.json, and with --write-doc puts the tables into
docs/benchmarks.md. Exits 1 when a target fails. Needs Python >= 3.10 and nothing else.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios
from harness import BENCH, REPO, Receiver, Section, log, markdown_table

NAMES = ("startup", "request", "call", "build")
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
VERSIONS = {
    "build": ("hatchling", "libcst", "hatch-otel"),
    "flask": ("flask", "werkzeug", "opentelemetry-api", "opentelemetry-sdk",
              "opentelemetry-exporter-otlp-proto-http", "opentelemetry-distro",
              "opentelemetry-instrumentation-flask"),
    "fastapi": ("fastapi", "starlette", "httpx", "opentelemetry-instrumentation-fastapi"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and iterations, a 20k-line build project")
    parser.add_argument("--only", action="append", choices=NAMES, metavar="NAME",
                        help=f"run only this scenario (repeatable): {', '.join(NAMES)}")
    parser.add_argument("--rounds", type=int, help="rounds per comparison (default 5, quick 2)")
    parser.add_argument("--work", type=Path, help="work directory (environments, builds)")
    parser.add_argument("--write-doc", action="store_true",
                        help=f"replace the results in {DOC.relative_to(REPO)}")
    args = parser.parse_args()
    work = (args.work or Path(os.environ.get("HATCH_OTEL_BENCH_WORK")
                              or Path(tempfile.gettempdir()) / "hatch-otel-bench")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rounds = args.rounds or (2 if args.quick else 5)
    selected = args.only or list(NAMES)
    started = datetime.datetime.now(datetime.timezone.utc)
    receiver = Receiver()
    load = os.getloadavg()[0]
    ctx = scenarios.Context(work, receiver, rounds, rounds,
                            args.quick)
    sections: list[Section] = []
    try:
        for name in NAMES:
            if name not in selected:
                continue
            log(f"== {name}")
            result = {"startup": scenarios.startup, "request": scenarios.requests,
                      "call": scenarios.calls, "build": scenarios.builds}[name](ctx)
            sections += result if isinstance(result, list) else [result]
    finally:
        receiver.close()
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    report = _report(sections, ctx, args, elapsed, started, (load, os.getloadavg()[0]))
    print(report)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps({
        "started": started.isoformat(timespec="seconds"), "elapsed_s": round(elapsed, 1),
        "quick": args.quick, "rounds": rounds, "machine": _machine(ctx),
        "sections": [{"key": s.key, "title": s.title, "columns": s.columns, "rows": s.rows,
                      "notes": s.notes, "rounds": s.raw,
                      "targets": [{"scenario": t.scenario, "target": t.text,
                                   "measured": t.measured, "limit": t.limit,
                                   "verdict": t.verdict, "note": t.note} for t in s.targets]}
                     for s in sections],
    }, indent=2) + "\n")
    log(f"wrote {results / 'latest.json'}")
    if args.write_doc:
        _write_doc(report)
    return 1 if any(t.verdict == "FAIL" for s in sections for t in s.targets) else 0


def _machine(ctx: scenarios.Context) -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name, env in ctx.envs.items():
        versions.update(env.versions(VERSIONS.get(name, ())))
    return {"cpu": model, "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "versions": dict(sorted(versions.items()))}


def _report(sections: list[Section], ctx: scenarios.Context, args: argparse.Namespace,
            elapsed: float, started: datetime.datetime, load: tuple[float, float]) -> str:
    machine = _machine(ctx)
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())  # type: ignore[attr-defined]
    mode = "--quick" if args.quick else "full"
    lines = [f"Run of {started:%Y-%m-%d %H:%M} UTC ({mode}, {ctx.rounds} rounds, build "
             f"{ctx.build_rounds}; {elapsed:.0f} s in all) on {machine['cpu']}, "
             f"{machine['cores']} cores, {machine['os']}, Python {machine['python']}; "
             f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.", "",
             f"Versions: {versions}.", "", "#### Targets", ""]
    lines += markdown_table(["scenario", "target", "measured", "limit", "verdict", "note"],
                            [t.as_row() for s in sections for t in s.targets])
    lines.append("")
    for section in sections:
        lines += ["", section.markdown()]
    return "\n".join(lines).rstrip() + "\n"


def _write_doc(report: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{report}{END}{tail}")
    log(f"wrote the results into {DOC}")


if __name__ == "__main__":
    sys.exit(main())
