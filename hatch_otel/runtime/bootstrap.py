"""Turn the plan's rule table into active bindings, once per process.

Called by the bundled `_otel/__init__.py` the first time any woven module is imported. It never
raises: with telemetry disabled or the OpenTelemetry packages missing, every rule stays inactive
and the woven app runs exactly as the original.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from . import imports, report, trampolines

PEER_AGENT = "opentelemetry.instrumentation.auto_instrumentation"
_started = False


def start(package: str, project: str, version: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
    global _started
    if _started:
        return
    _started = True
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return
    try:
        bindings = _bindings(package, project, version, rules)
    except ImportError as exc:
        report.once("otel-missing", "hatch-otel: OpenTelemetry is not installed (%s); %s runs "
                    "uninstrumented", exc, project)
        return
    except Exception:
        report.once("bootstrap", "hatch-otel: instrumentation could not start; %s runs "
                    "uninstrumented", project, exc_info=True)
        return
    trampolines.activate(bindings)


def disabled_instrumentations() -> frozenset[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


def _bindings(package: str, project: str, version: str,
              rules: Mapping[str, Mapping[str, Any]]) -> dict[str, trampolines.Binding]:
    from opentelemetry import trace

    from . import tracing
    from .spans import TracePolicy

    under_peer_agent = PEER_AGENT in sys.modules
    tracing.flush_on_sigterm()  # whoever configured the provider, spans survive `docker stop`
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        tracing.configure_on_first_span(lambda: _configure_sdk(project, version))
    elif under_peer_agent:
        report.once("peer", "hatch-otel: running under opentelemetry-instrument; its "
                    "instrumentations are used and the woven library hooks stay off")
    disabled = disabled_instrumentations()
    bindings = {}
    for rule_id, rule in rules.items():
        library = rule["library"]
        if library in disabled or (under_peer_agent and not rule.get("project_rule")):
            continue
        policy = None
        if rule.get("span") is not None:
            spec = rule["span"]
            policy = TracePolicy(
                tracing.tracer(library, version),
                name=spec["name"],
                kind=spec["kind"],
                attributes=spec["attributes"],
                record_exception=spec["record_exception"],
                record_return=spec["record_return"],
            )
        binding = trampolines.Binding(rule_id, package, rule.get("before"), rule.get("after"),
                                      policy)
        if rule.get("module"):
            imports.on_import(rule["module"], rule_id, _module_hook(binding))
        else:
            bindings[rule_id] = binding
    return bindings


def _configure_sdk(project: str, version: str) -> None:
    from . import sdk

    sdk.configure(project, version)


def _module_hook(binding: trampolines.Binding) -> imports.ModuleHook:
    """An import rule's `after` hook receives the freshly imported module."""

    def run(module: Any) -> None:
        if binding.resolve() and binding.after is not None:
            binding.after(module)

    return run
