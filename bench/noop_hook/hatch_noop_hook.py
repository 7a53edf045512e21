"""A build hook that does nothing (the benchmarks' floor for any third-party hook)."""

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.plugin import hookimpl


class NoopBuildHook(BuildHookInterface):
    PLUGIN_NAME = "noop"


@hookimpl
def hatch_register_build_hook():
    return NoopBuildHook
