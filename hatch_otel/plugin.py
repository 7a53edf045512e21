"""Registers the `otel` build hook with hatchling (entry-point group `hatch`)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from .hook import OtelBuildHook


@hookimpl
def hatch_register_build_hook() -> type[OtelBuildHook]:
    return OtelBuildHook
