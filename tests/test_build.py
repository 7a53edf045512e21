"""Building with the hook through the front ends users run, and what each build produces."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from e2e import SAMPLE, copy_project, run, wheel_names, wheel_text

pytestmark = pytest.mark.e2e


def _build_wheel(project: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    """`pip wheel` in this environment (hatch-otel installed), without build isolation."""
    result = run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                  "--no-build-isolation", "--wheel-dir", str(out), *extra, str(project)],
                 env=env, check=False)
    return result.stdout + result.stderr


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return copy_project(SAMPLE, tmp_path / "sample_project")


def test_python_m_build_produces_a_woven_wheel(sample: Path, tmp_path: Path, wheelhouse: Path):
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"),
         str(sample)], env={"PIP_FIND_LINKS": str(wheelhouse)})
    wheel = next((tmp_path / "dist").glob("*.whl"))
    assert "_hatch_otel.at(" in wheel_text(wheel, "greeter/app.py")
    assert "greeter/_otel/manifest.json" in wheel_names(wheel)


def test_hatch_build_produces_a_woven_wheel(sample: Path, tmp_path: Path, wheelhouse: Path):
    """`hatch build`, in build environments of its own (data and cache kept in tmp_path, so an
    older hatch-otel from an earlier run cannot be reused)."""
    hatch = Path(sys.executable).with_name("hatch")
    result = run([str(hatch), "build", "--target", "wheel", str(tmp_path / "dist")], cwd=sample,
                 env={"PIP_FIND_LINKS": str(wheelhouse), "UV_FIND_LINKS": str(wheelhouse),
                      "HATCH_DATA_DIR": str(tmp_path / "hatch-data"),
                      "HATCH_CACHE_DIR": str(tmp_path / "hatch-cache")})
    assert "hatch-otel 0.1.0: wove 3 file(s)" in result.stdout + result.stderr
    wheel = next((tmp_path / "dist").glob("*.whl"))
    assert "_hatch_otel.at(" in wheel_text(wheel, "greeter/app.py")
    assert "greeter/_otel/manifest.json" in wheel_names(wheel)


def test_uv_build_produces_a_woven_wheel(sample: Path, tmp_path: Path, wheelhouse: Path):
    uv = Path(sys.executable).with_name("uv")
    result = run([str(uv), "build", "--wheel", "--find-links", str(wheelhouse), "--out-dir",
                  str(tmp_path / "dist"), str(sample)])
    assert "hatch-otel 0.1.0: wove 3 file(s)" in result.stdout + result.stderr
    wheel = next((tmp_path / "dist").glob("*.whl"))
    assert "_hatch_otel.at(" in wheel_text(wheel, "greeter/app.py")


def test_builds_are_byte_identical_under_source_date_epoch(sample: Path, tmp_path: Path):
    """Cold, cold without any cache, and warm (the stored build reused): the same bytes."""
    env = {"SOURCE_DATE_EPOCH": "1700000000", "HATCH_OTEL_CACHE_DIR": str(tmp_path / "cache")}
    verbose = {**env, "HATCH_VERBOSE": "1"}
    outputs = [_build_wheel(sample, tmp_path / "cold", env=verbose),
               _build_wheel(sample, tmp_path / "uncached", env={**env, "HATCH_OTEL_NO_CACHE": "1"}),
               _build_wheel(sample, tmp_path / "warm", env=verbose)]
    wheels = [next((tmp_path / name).glob("*.whl")).read_bytes()
              for name in ("cold", "uncached", "warm")]
    assert wheels[0] == wheels[1] == wheels[2]
    assert all("hatch-otel 0.1.0: wove 3 file(s)" in output for output in outputs)
    reused = "nothing the build depends on changed; reusing the stored result"
    assert reused not in outputs[0] and reused in outputs[2]
    assert [p.name for p in (tmp_path / "cache" / "builds").iterdir()] != []


def test_a_rebuild_after_an_edit_weaves_the_edited_source(sample: Path, tmp_path: Path):
    env = {"HATCH_OTEL_CACHE_DIR": str(tmp_path / "cache")}
    _build_wheel(sample, tmp_path / "before", env=env)
    app = sample / "src/greeter/app.py"
    app.write_text(app.read_text() + "# edited after the first build\n")
    _build_wheel(sample, tmp_path / "after", env=env)
    woven = wheel_text(next((tmp_path / "after").glob("*.whl")), "greeter/app.py")
    assert woven.endswith("# edited after the first build\n") and "_hatch_otel.at(" in woven
    assert len(list((tmp_path / "cache" / "builds").iterdir())) == 2


def test_files_with_nothing_to_weave_go_in_byte_for_byte(sample: Path, tmp_path: Path):
    (sample / "src/greeter/plain.py").write_bytes(b"# -*- coding: latin-1 -*-\nX = '\xe9'  \n")
    _build_wheel(sample, tmp_path / "dist")
    with zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))) as wheel:
        assert wheel.read("greeter/plain.py") == (sample / "src/greeter/plain.py").read_bytes()


def test_the_sdist_holds_the_projects_own_files_unwoven(sample: Path, tmp_path: Path):
    run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir",
         str(tmp_path / "dist"), str(sample)])
    with tarfile.open(next((tmp_path / "dist").glob("*.tar.gz"))) as sdist:
        names = sdist.getnames()
        app = sdist.extractfile("greeter-1.0.0/src/greeter/app.py")
        assert app is not None
        assert app.read() == (sample / "src/greeter/app.py").read_bytes()
        pkg_info = sdist.extractfile("greeter-1.0.0/PKG-INFO")
        assert pkg_info is not None
        assert b"Requires-Dist: opentelemetry-sdk>=1.27" in pkg_info.read()
    assert not any("_otel" in name for name in names)


def test_the_wheel_target_table_works_and_editable_builds_say_they_are_not_woven(
        sample: Path, tmp_path: Path):
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        "[tool.hatch.build.hooks.otel]", "[tool.hatch.build.targets.wheel.hooks.otel]"))
    output = _build_wheel(sample, tmp_path / "dist")
    assert "wove 3 file(s)" in output
    result = run([sys.executable, "-m", "pip", "install", "-v", "--no-deps",
                  "--no-build-isolation", "--target", str(tmp_path / "target"), "-e",
                  str(sample)], check=False)
    assert "hatch-otel: editable install, sources are not woven" in result.stdout + result.stderr


def test_a_configuration_error_fails_the_build_with_one_message_and_no_traceback(
        sample: Path, tmp_path: Path):
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'strict = "yes"\n[[tool.hatch.build.hooks.otel'
                         '.trace]]\nfunction = "greeter.app:*"\nkind = "sideways"\n')
    output = _build_wheel(sample, tmp_path / "dist")
    assert not list((tmp_path / "dist").glob("*.whl"))
    assert ("hatch-otel: tool.hatch.build.hooks.otel.strict: must be true or false, not 'yes'"
            in output)
    assert ("tool.hatch.build.hooks.otel.trace[0].kind: must be one of internal, server, client,"
            " producer, consumer, not 'sideways'" in output)
    assert "Traceback" not in output


def test_a_file_that_does_not_parse_fails_the_build_with_its_position(sample: Path,
                                                                      tmp_path: Path):
    broken = "import logging\n\nx = (1,\n"
    (sample / "src/greeter/broken.py").write_text(broken)
    # names no instrumented library, so the build need not parse it: Python will report it
    (sample / "src/greeter/unread.py").write_text("x = (1,\n")
    output = _build_wheel(sample, tmp_path / "dist")
    assert "hatch-otel: src/greeter/broken.py:3:5:" in output
    assert "unread.py" not in output
    assert "set `strict = false`" in output
    assert "Traceback" not in output
    pyproject = sample / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "strict = false\n")
    output = _build_wheel(sample, tmp_path / "dist")
    assert "src/greeter/broken.py:3:5:" in output and "shipped unwoven" in output
    wheel = next((tmp_path / "dist").glob("*.whl"))
    assert wheel_text(wheel, "greeter/broken.py") == broken
    assert wheel_text(wheel, "greeter/unread.py") == "x = (1,\n"
