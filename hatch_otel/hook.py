"""The hatchling build hook: runs the pipeline and hands the bundle to the wheel builder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from . import config as config_module
from .bundle import RUNTIME_DEPENDENCIES, write_bundle
from .cache import Cache, default_directory
from .display import details, summary
from .errors import HatchOtelError
from .pipeline import run
from .project import from_builder


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
        try:
            config = config_module.load(self.config, root, config_module.table_path(root))
            outcome = run(from_builder(root, self.build_config.builder), config,
                          cache=Cache(default_directory()))
            if outcome.errors:
                raise HatchOtelError(*outcome.errors)
            self._bundle_dir = tempfile.mkdtemp(prefix="hatch-otel-")
            bundle = write_bundle(outcome, Path(self._bundle_dir))
        except HatchOtelError as exc:
            self.app.abort("\n".join(exc.lines()))
            raise  # abort exits; this only satisfies type checkers
        build_data["force_include"].update(bundle.files)
        build_data["dependencies"].extend(bundle.dependencies)
        for line in summary(outcome):
            self.app.display_info(line)
        for line in details(outcome):
            self.app.display_debug(line)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        bundle_dir = getattr(self, "_bundle_dir", None)
        if bundle_dir is not None:
            shutil.rmtree(bundle_dir, ignore_errors=True)
