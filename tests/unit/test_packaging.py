"""
What the wheel ships: the provider only. The demo and the test helpers (``automl_demo/``, repository root)
stay out of it, nothing the wheel ships imports them, and aiosmtpd stays a dev dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_automl_provider"
DEMO = "automl_demo"


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_wheel_config_packages_the_provider_only(pyproject):
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [PACKAGE]
    # Nothing adds files beside the package.
    assert not {"include", "only-include", "force-include", "shared-data"} & set(wheel)
    assert not {"include", "only-include", "force-include"} & set(pyproject["tool"]["hatch"]["build"])
    assert (ROOT / DEMO / "__main__.py").is_file()
    assert not (ROOT / PACKAGE / "demo.py").exists() and not (ROOT / PACKAGE / DEMO).exists()


def test_aiosmtpd_is_a_dev_dependency_only(pyproject):
    def names(requirements):
        return {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip() for r in requirements}

    project = pyproject["project"]
    assert "aiosmtpd" not in names(project["dependencies"])
    assert [extra for extra, reqs in project["optional-dependencies"].items() if "aiosmtpd" in names(reqs)] == ["dev"]


@pytest.mark.parametrize("folder", [PACKAGE, "dags"])
def test_the_provider_and_the_dags_do_not_import_the_demo(folder):
    importers = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / folder).rglob("*.py"))
        if any(name == DEMO or name.startswith(f"{DEMO}.") for name in _imported_modules(path))
    ]
    assert importers == []


def test_built_wheel_ships_no_demo(tmp_path):
    """A real build (hatchling through uv, from uv's cache, which ``make setup`` fills)."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip(f"uv is not installed beside {sys.executable} (make setup installs it)")
    done = subprocess.run(
        [str(uv), "build", "--wheel", "--offline", "--python", sys.executable, "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [line for line in zf.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    tops = {name.split("/")[0] for name in names}
    assert tops == {PACKAGE, wheel.name.split("-py")[0] + ".dist-info"}
    assert f"{PACKAGE}/__init__.py" in names
    assert [n for n in names if "demo" in n.lower()] == []
    aiosmtpd = [r for r in requires if "aiosmtpd" in r]
    assert len(aiosmtpd) == 1 and aiosmtpd[0].endswith("; extra == 'dev'")


def test_docker_image_gets_the_demo_beside_the_package():
    """``docker compose run --rm airflow-cli python -m automl_demo seed``: copied and on PYTHONPATH, not installed."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"COPY --chown=airflow:0 {DEMO} /opt/automl-demo/{DEMO}" in dockerfile
    assert "ENV PYTHONPATH=/opt/automl-demo" in dockerfile
    assert f"!{DEMO}/" in (ROOT / ".dockerignore").read_text().split()
