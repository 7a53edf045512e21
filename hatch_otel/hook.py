"""The hatchling build hook: runs the pipeline and hands the bundle to the wheel builder.

A build whose inputs are unchanged reuses the stored result of the last one (see reuse.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from . import config as config_module
from . import reuse
from .bundle import RUNTIME_DEPENDENCIES
from .cache import Cache, default_directory
from .config import Config
from .errors import HatchOtelError
from .project import Project, from_builder


class OtelBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "otel"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "sdist":
            # the sdist holds the project's own files only; its PKG-INFO agrees with the wheel
            build_data["dependencies"].extend(RUNTIME_DEPENDENCIES)
            return
        if self.target_name != "wheel":
            return
        if version == "editable":
            self.app.display_info("hatch-otel: editable install, sources are not woven "
                                  "(the source tree is imported directly; build a wheel to weave)")
            return
        root = Path(self.root)
        cache = Cache(default_directory())
        try:
            config = config_module.load(self.config, root, config_module.table_path(root))
            project = from_builder(root, self.build_config.builder)
            key = reuse.build_key(project, config, cache)
            built = reuse.reuse(cache, key)
            if built is not None:
                self.app.display_debug("hatch-otel: nothing the build depends on changed; "
                                       f"reusing the stored result in {built.directory}")
            else:
                built = reuse.build(cache, key, lambda directory: _weave_into(
                    directory, project, config, cache))
        except HatchOtelError as exc:
            self.app.abort("\n".join(exc.lines()))
            raise  # abort exits; this only satisfies type checkers
        self._built = built
        build_data["force_include"].update(built.files)
        build_data["dependencies"].extend(built.dependencies)
        for line in built.info:
            self.app.display_info(line)
        for line in built.debug:
            self.app.display_debug(line)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        built: reuse.Built | None = getattr(self, "_built", None)
        if built is not None and built.temporary:
            shutil.rmtree(built.directory, ignore_errors=True)


def _weave_into(directory: Path, project: Project, config: Config, cache: Cache
                ) -> reuse.Contents:
    """The cold build: analyse, plan and weave, then write the woven files and the bundle.

    Imported here: a warm build reuses the stored result and needs none of it."""
    from .bundle import write_bundle
    from .display import details, summary
    from .pipeline import run

    outcome = run(project, config, cache=cache)
    if outcome.errors:
        raise HatchOtelError(*outcome.errors)
    return reuse.Contents(write_bundle(outcome, directory), RUNTIME_DEPENDENCIES,
                          tuple(summary(outcome)), tuple(details(outcome)))
