"""The five scenarios of docs/benchmarks.md. Each returns a `Section`: medians per variant,
ratios computed round by round, and the issue's targets with their verdicts."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import projects
from harness import (
    CHILDREN,
    REPO,
    Env,
    Receiver,
    Section,
    Target,
    build_wheel,
    child_env,
    ensure_env,
    first_response,
    free_port,
    install_target,
    interleaved,
    log,
    median_of,
    median_ratio,
    ms,
    otel_env,
    run_measured,
    us,
)

Rounds = list[dict[str, dict[str, float]]]


@dataclass
class Context:
    """What the scenarios share in one run: the work directory, environments, built apps."""

    work: Path
    receiver: Receiver
    rounds: int
    build_rounds: int
    quick: bool
    envs: dict[str, Env] = field(default_factory=dict)
    targets: dict[str, Path] = field(default_factory=dict)

    def env(self, name: str) -> Env:
        if name not in self.envs:
            self.envs[name] = ensure_env(self.work, name)
        return self.envs[name]

    def installed(self, name: str, make: Callable[[Path], Path], env: str) -> tuple[Path, Path]:
        """The project built plain and woven, each installed into its own folder."""
        if name not in self.targets:
            log(f"   building {name} (plain and woven)")
            project = make(self.work / "projects" / name)
            for woven in (False, True):
                kind = "woven" if woven else "plain"
                wheel = build_wheel(self.env("build"), project, self.work / "dist" / name / kind,
                                    woven)
                self.targets[f"{name}-{kind}"] = install_target(
                    self.env(env), wheel, self.work / "targets" / f"{name}-{kind}")
            self.targets[name] = project
        return self.targets[f"{name}-plain"], self.targets[f"{name}-woven"]


def _ratio(numerator: str, denominator: str, metric: str, base: str | None = None
           ) -> Callable[[Mapping[str, Mapping[str, float]]], float]:
    """(numerator - base) / (denominator - base) within one round; base=None: plain ratio."""

    def ratio(round_: Mapping[str, Mapping[str, float]]) -> float:
        offset = round_[base][metric] if base else 0.0
        return (round_[numerator][metric] - offset) / (round_[denominator][metric] - offset)

    return ratio


def hook_written(*names: str) -> bool:
    return any((REPO / "hook_library" / name / "rules.toml").exists() for name in names)


# -- 1. start-up ---------------------------------------------------------------------------------
def startup(ctx: Context) -> Section:
    env = ctx.env("flask")
    plain, woven = ctx.installed("greeter", projects.sample, "flask")
    python = str(env.python)
    variants: dict[str, tuple[list[str], Path]] = {
        "plain": ([python, "-m", "greeter"], plain),
        "woven": ([python, "-m", "greeter"], woven),
        "opentelemetry-instrument": (
            [str(env.script("opentelemetry-instrument")), python, "-m", "greeter"], plain),
        "floor (SDK by hand)": ([python, str(CHILDREN / "serve_floor.py")], plain),
    }

    exported = {f"{variant}{AFTER_EXPORT}": variant for variant in variants}

    def measure(variant: str) -> dict[str, float]:
        command, path = variants[exported.get(variant, variant)]
        port = free_port()
        settle = 0.5 if ctx.quick else 1.0
        extra = {"GREETER_PORT": str(port)}
        if variant in exported:  # both signals exported once before the process is stopped
            settle, extra["OTEL_METRIC_EXPORT_INTERVAL"] = EXPORT_SETTLE_S, "5000"
        usage = first_response(command, child_env({**otel_env(ctx.receiver), **extra}, path),
                               port, settle=settle)
        return {"wall_s": usage.wall_s, "cpu_s": usage.cpu_s, "rss_mb": usage.maxrss_mb}

    rounds = interleaved([*variants, *exported], ctx.rounds, measure, "start-up")
    section = Section("startup", "1. Start-up of the sample Flask app (python -m greeter)",
                      ["variant", "wall to first response (ms)", "CPU (ms)",
                       "CPU over plain (ms)", "peak RSS (MB)"], raw=rounds)
    base = median_of(rounds, "plain", "cpu_s")
    for variant in [*variants, *exported]:
        if variant in exported:
            base = median_of(rounds, f"plain{AFTER_EXPORT}", "cpu_s")
        cpu = median_of(rounds, variant, "cpu_s")
        section.rows.append([variant, ms(median_of(rounds, variant, "wall_s")), ms(cpu),
                             "-" if variant.startswith("plain") else f"{(cpu - base) * 1000:+.1f}",
                             f"{median_of(rounds, variant, 'rss_mb'):.1f}"])
    peer = "opentelemetry-instrument"
    section.targets += [
        Target("1", "start-up CPU: woven overhead / opentelemetry-instrument overhead",
               median_ratio(rounds, _ratio("woven", peer, "cpu_s", "plain")), 0.40),
        Target("1", "wall to first response: woven overhead / opentelemetry-instrument overhead",
               median_ratio(rounds, _ratio("woven", peer, "wall_s", "plain")), 0.40,
               note="wall time follows the machine's other load (see the load average)"),
        Target("5", "peak RSS at start-up: woven / opentelemetry-instrument",
               median_ratio(rounds, _ratio("woven", peer, "rss_mb")), 1.0),
    ]
    with_exporters = median_ratio(rounds, _ratio(
        f"woven{AFTER_EXPORT}", f"{peer}{AFTER_EXPORT}", "cpu_s", f"plain{AFTER_EXPORT}"))
    section.notes += [
        "CPU is user+system time of the whole process (all threads, the wrapper's exec "
        "included) from the kernel (wait4), taken after the first 200 response plus a "
        f"{0.5 if ctx.quick else 1.0} s idle settle so work moved to background threads counts; "
        "the process is then SIGKILLed, so no exit work is included.",
        "overhead = variant - plain, computed per round; the ratio is the median of the "
        "per-round ratios.",
        f"'{AFTER_EXPORT.strip()}': the same processes left {EXPORT_SETTLE_S:.1f} s after the "
        "first response, with OTEL_METRIC_EXPORT_INTERVAL=5000, so that both signals have been "
        "exported once: the woven app builds its OTLP exporters on their first export, and "
        "this is the CPU that includes them. Woven overhead / opentelemetry-instrument overhead "
        f"there: {with_exporters:.2f}x (informational).",
    ]
    return section


AFTER_EXPORT = ", after the first export"
EXPORT_SETTLE_S = 6.5
"""Past the batch span processor's and the metric reader's first export (5 s each)."""


# -- 2. per request ------------------------------------------------------------------------------
def requests(ctx: Context) -> list[Section]:
    sections = [_requests(ctx, "flask", "greeter", projects.sample, "Flask test_client()",
                          hook_written("flask")),
                _requests(ctx, "fastapi", "fastgreeter", projects.fastgreeter,
                          "httpx.AsyncClient over ASGITransport", hook_written("fastapi",
                                                                          "starlette"))]
    return sections


def _requests(ctx: Context, app: str, name: str, make: Callable[[Path], Path], client: str,
              hook_exists: bool) -> Section:
    env = ctx.env(app)
    plain, woven = ctx.installed(name, make, app)
    script = str(CHILDREN / "request_loop.py")
    count, batches, warmup = ((150, 3, 50) if ctx.quick else (500, 5, 200)) if app == "flask" \
        else ((60, 3, 20) if ctx.quick else (200, 5, 60))
    loop = [str(count), str(batches), str(warmup)]
    python = str(env.python)
    wrapper = str(env.script("opentelemetry-instrument"))
    variants: dict[str, tuple[list[str], Path]] = {
        "plain": ([python, script, app, "plain", *loop], plain),
        "woven": ([python, script, app, "plain", *loop], woven),
        "opentelemetry-instrument": ([wrapper, python, script, app, "plain", *loop], plain),
    }
    if app == "flask":
        floor = "floor (span)"
        variants[floor] = ([python, script, app, "floor-span", *loop], plain)
        variants["floor (span + metric)"] = ([python, script, app, "floor", *loop], plain)
    else:
        floor = "floor (SDK by hand)"
        variants[floor] = ([python, script, app, "sdk", *loop], plain)
    if not hook_exists:
        del variants["woven"]
    exports: dict[str, list[int]] = {v: [] for v in variants}

    def measure(variant: str) -> dict[str, float]:
        command, path = variants[variant]
        before = ctx.receiver.counts().get("/v1/traces", 0)
        usage = run_measured(command, child_env(otel_env(ctx.receiver), path))
        exports[variant].append(ctx.receiver.counts().get("/v1/traces", 0) - before)
        result = json.loads(usage.stdout)
        if result["recording"] != (variant != "plain"):
            raise SystemExit(f"{app} {variant}: a recording span inside the request was "
                             f"{'' if result['recording'] else 'not '}found; the variant is not "
                             "what it claims to be")
        return {"cpu_s": result["cpu_s"], "wall_s": result["wall_s"],
                "rss_mb": result["maxrss_mb"]}

    rounds = interleaved(list(variants), ctx.rounds, measure, f"per request ({app})")
    section = Section(f"request-{app}", f"2. Per request: {app} GET /greet, {client}",
                      ["variant", "CPU per request (us)", "CPU added over plain (us)",
                       "wall per request (us)", "peak RSS (MB)", "trace exports"], raw=rounds)
    base = median_of(rounds, "plain", "cpu_s")
    for variant in variants:
        value = median_of(rounds, variant, "cpu_s")
        section.rows.append([variant, us(value),
                             "-" if variant == "plain" else f"{(value - base) * 1e6:+.2f}",
                             us(median_of(rounds, variant, "wall_s")),
                             f"{median_of(rounds, variant, 'rss_mb'):.1f}",
                             str(sum(exports[variant]))])
    if not hook_exists:
        section.rows.insert(1, ["woven", "pending", "pending", "pending", "pending", "-"])
    peer = "opentelemetry-instrument"

    def woven_ratio(to: str, metric: str = "cpu_s", base: str | None = "plain"
                    ) -> float | None:
        return median_ratio(rounds, _ratio("woven", to, metric, base)) if hook_exists else None

    pending = "" if hook_exists else f"no {app} hook in hook_library yet"
    section.targets += [
        Target("2", f"{app}: woven added CPU / opentelemetry-instrument added CPU",
               woven_ratio(peer), 0.40, note=pending),
        Target("2", f"{app}: woven added CPU / {floor} added CPU",
               woven_ratio(floor), 1.5, note=pending),
        Target("5", f"{app} per-request process peak RSS: woven / opentelemetry-instrument",
               woven_ratio(peer, "rss_mb", None), 1.0, note=pending),
    ]
    if hook_exists and app == "flask":
        section.notes.append(
            "woven added CPU / floor (span + metric) added CPU: "
            f"{woven_ratio('floor (span + metric)'):.2f}x (informational: the woven app also "
            "records http.server.request.duration)")
    section.notes += [
        f"In-process client: {client}; every request carries a traceparent header. Each "
        f"process: {warmup} warm-up requests, then {batches} batches of {count}; the figure is "
        "the median batch mean. Every instrumented variant is checked to have a recording span "
        "inside the request; 'trace exports' counts OTLP posts the receiver got (all rounds). "
        "CPU = CPU time of the thread that runs the requests (time.thread_time): on a shared "
        "machine it is far steadier than wall time, which is shown for information. The "
        "export thread's work (encoding and posting batches) is left out: it is the same SDK "
        "code per span in every variant, and how much of it runs depends on how many spans the "
        "batch processor drops when its queue is full.",
        "floor (span): one SERVER span with the same attributes and traceparent extraction, "
        "written by hand (bench/children/floor_http.py), SDK configured by hand."
        if app == "flask" else
        "FastAPI releases with built-in telemetry (0.165 here) make their own SERVER span, "
        "operation spans and duration metric as soon as a tracer provider is set, in every "
        "instrumented variant; the floor is therefore the SDK configured by hand and nothing "
        "else.",
    ]
    return section


# -- 3. per call ---------------------------------------------------------------------------------
def calls(ctx: Context) -> Section:
    env = ctx.env("flask")
    plain, woven = ctx.installed("callbench", projects.callbench, "flask")
    script = str(CHILDREN / "call_loop.py")
    seconds, inner = ("0.05", 3) if ctx.quick else ("0.1", 5)
    rounds: Rounds = []
    for number in range(ctx.rounds):
        log(f"   per call: process pair {number + 1}/{ctx.rounds}")
        for state, extra in (("off", {"OTEL_SDK_DISABLED": "true"}), ("on", {})):
            usage = run_measured([str(env.python), script, state, str(plain), seconds,
                                  str(inner)],
                                 child_env({**otel_env(ctx.receiver), **extra}, woven))
            for index, measured in enumerate(json.loads(usage.stdout)):
                if state == "off":
                    rounds.append(measured)
                else:
                    rounds[-inner + index].update(measured)
    section = Section("call", "3. Per call of a woven function (trace rule, function join point)",
                      ["variant", "CPU per call (us)", "wall per call (us)", "CPU / floor"],
                      raw=rounds)
    floor = "floor: start_span + attach"
    for variant in rounds[0]:
        section.rows.append([variant, us(median_of(rounds, variant, "cpu_s")),
                             us(median_of(rounds, variant, "wall_s")),
                             f"{median_ratio(rounds, _ratio(variant, floor, 'cpu_s')):.2f}x"
                             if variant in ("woven", floor, "floor: start_as_current_span")
                             else "-"])
    section.targets += [
        Target("3", "SDK disabled: woven call / unwoven call (CPU)",
               median_ratio(rounds, _ratio("woven, SDK disabled", "unwoven, SDK disabled",
                                           "cpu_s")), 1.05),
        Target("3", "enabled: woven call / floor (start_span + attach) (CPU)",
               median_ratio(rounds, _ratio("woven", floor, "cpu_s")), 1.2),
    ]
    section.notes += [
        "woven / floor (start_as_current_span): "
        f"{median_ratio(rounds, _ratio('woven', 'floor: start_as_current_span', 'cpu_s')):.2f}x"
        " (informational).",
        "The function sums the squares of 8 integers (`bench/projects.py`, CALL_BODY); the "
        "floors are that body with the span written by hand. Each process runs all the "
        "variants of one SDK state side by side (bench/children/call_loop.py), batch by batch, "
        f"{inner} rounds of batches of about {seconds} s, after a warm-up that sizes them; "
        f"{ctx.rounds} pairs of processes (SDK off, SDK on). The SDK-on variants share one "
        "tracer provider, configured by the woven package's bootstrap from the OTEL_* "
        "variables. CPU = CPU time of the calling thread (the export thread left out, as in "
        "scenario 2).",
    ]
    return section


# -- 4. build ------------------------------------------------------------------------------------
BUILD = "import sys; from hatchling.build import build_wheel; build_wheel(sys.argv[1])"


def builds(ctx: Context) -> Section:
    env = ctx.env("build")
    lines = 20_000 if ctx.quick else 100_000
    app = projects.large(ctx.work / "projects" / "bigapp", lines, weavable=True)
    calc = projects.large(ctx.work / "projects" / "bigcalc", lines, weavable=False)
    noop = projects.large(ctx.work / "projects" / "bigcalc-noop", lines, weavable=False,
                          hook="noop")
    cache = ctx.work / "xdg-cache"
    out = ctx.work / "dist" / "large"
    found: set[str] = set()
    no_hooks = {"HATCH_BUILD_NO_HOOKS": "true"}
    noop_variant = "nothing to weave: a hook plugin that does nothing"
    variants: dict[str, tuple[Path, dict[str, str]]] = {
        "plain hatchling": (app, no_hooks),
        "with the hook, cold": (app, {}),
        "with the hook, warm": (app, {}),
        "nothing to weave: plain hatchling": (calc, no_hooks),
        "nothing to weave: with the hook, cold": (calc, {}),
        "nothing to weave: with the hook, warm": (calc, {}),
        noop_variant: (noop, {}),
    }

    def measure(variant: str) -> dict[str, float]:
        project, extra = variants[variant]
        if variant.endswith("cold"):
            _clear_caches(project, cache)
        before = _outside_sources(project) | _files(cache)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        usage = run_measured([str(env.python), "-c", BUILD, str(out)],
                             child_env({"XDG_CACHE_HOME": str(cache), **extra}), cwd=project)
        if variant.endswith("cold"):
            found.update((_outside_sources(project) | _files(cache)) - before)
        return {"wall_s": usage.wall_s, "cpu_s": usage.cpu_s}

    rounds = interleaved(list(variants), ctx.build_rounds, measure, "build")
    section = Section("build", f"4. Wheel build of a generated project of {lines:,} lines",
                      ["variant", "wall (s)", "CPU (s, incl. workers)", "wall / plain"],
                      raw=rounds)
    for variant, (project, _) in variants.items():
        base = "plain hatchling" if project == app else "nothing to weave: plain hatchling"
        section.rows.append([variant, f"{median_of(rounds, variant, 'wall_s'):.2f}",
                             f"{median_of(rounds, variant, 'cpu_s'):.2f}",
                             f"{median_ratio(rounds, _ratio(variant, base, 'wall_s')):.2f}x"])
    noop_over_plain = median_ratio(rounds, _ratio(
        noop_variant, "nothing to weave: plain hatchling", "wall_s"))
    warm_over_noop = median_ratio(rounds, _ratio(
        "nothing to weave: with the hook, warm", noop_variant, "wall_s"))
    cache_note = (f"hatch-otel's cache: {len(found)} files written by a cold build under "
                  f"{os.path.commonpath(sorted(found))}") if found else \
        "no build cache was found (nothing written outside the sources or under XDG_CACHE_HOME)"
    section.targets += [
        Target("4", "cold build with the hook / plain hatchling (wall)",
               median_ratio(rounds, _ratio("with the hook, cold", "plain hatchling", "wall_s")),
               1.3),
        Target("4", "warm build with the hook / plain hatchling (wall)",
               median_ratio(rounds, _ratio("with the hook, warm", "plain hatchling", "wall_s")),
               1.1, note="" if found else "no cache yet: warm = a second cold build"),
        Target("4", "nothing to weave, cold: with the hook / plain hatchling (wall)",
               median_ratio(rounds, _ratio("nothing to weave: with the hook, cold",
                                           "nothing to weave: plain hatchling", "wall_s")), 1.05),
        Target("4", "nothing to weave, warm: with the hook / plain hatchling (wall)",
               median_ratio(rounds, _ratio("nothing to weave: with the hook, warm",
                                           "nothing to weave: plain hatchling", "wall_s")), 1.05),
    ]
    section.notes += [
        "Each build is a fresh process calling hatchling's PEP 517 build_wheel in the project "
        "(same environment, hatch-otel from this checkout); plain = HATCH_BUILD_NO_HOOKS=true. "
        "cold = any cache cleared first; warm = the build right after it (an unchanged "
        "project: the hook reuses its stored result).",
        cache_note,
        f"floor: a hook plugin that does nothing (bench/noop_hook) costs {noop_over_plain:.2f}x "
        "plain hatchling: hatchling loads any third-party hook through its entry points "
        "(importlib.metadata) before the hook runs. Over that floor, the warm build with the "
        f"hook costs {warm_over_noop:.2f}x.",
    ]
    return section


def _files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def _outside_sources(project: Path) -> set[str]:
    return {str(p) for p in project.rglob("*")
            if p.is_file() and "src" not in p.relative_to(project).parts[:1]}


def _clear_caches(project: Path, cache: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    for child in project.iterdir():
        if child.name not in ("src", "pyproject.toml"):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
